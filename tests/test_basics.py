"""The basic behaviours a user relies on first: connection stats, the monitoring JSON API,
health checks, alert history, the broadcaster's helpers and the event catalogue, each
observed from the outside: over the socket, the JSON API or the store."""

from __future__ import annotations

from app.hub.events import EventType
from app.monitor.health import HEALTHY, Outcome
from app.web import keys
from tests.conftest import LivewatchClient, connect, eventually, next_of, subscribe
from tests.samples import make_sample


class TestConnectionManager:
    async def test_get_stats_empty(self, client: LivewatchClient) -> None:
        stats = await (await client.get("/api/monitoring/connections")).json()
        assert stats == {"total_connections": 0, "channels": {}, "nodes": {"test-node": 0}}

    async def test_subscribe(self, client: LivewatchClient) -> None:
        ws = await connect(client)
        await subscribe(ws, "test_channel")
        stats = await (await client.get("/api/monitoring/connections")).json()
        assert stats["channels"]["test_channel"] == 1

    async def test_unsubscribe(self, client: LivewatchClient) -> None:
        ws = await connect(client)
        await subscribe(ws, "test_channel")
        await ws.send_json({"type": "unsubscribe", "channel": "test_channel"})
        await next_of(ws, "unsubscribed")
        stats = await (await client.get("/api/monitoring/connections")).json()
        assert "test_channel" not in stats["channels"]


class TestSystemMonitor:
    async def test_collect_metrics(self, client: LivewatchClient) -> None:
        sample = await client.app[keys.COLLECTOR].collect()
        assert 0 <= sample.cpu_percent <= 100
        assert 0 < sample.memory_percent <= 100
        assert 0 < sample.disk_percent <= 100

    async def test_register_health_check(self, client: LivewatchClient) -> None:
        async def dummy_check() -> Outcome:
            return Outcome(HEALTHY, "OK")

        client.app[keys.HEALTH].register("test", dummy_check)
        assert "test" in client.app[keys.HEALTH].names()

    async def test_check_health(self, client: LivewatchClient) -> None:
        async def dummy_check() -> Outcome:
            return Outcome(HEALTHY, "Test passed")

        client.app[keys.HEALTH].register("dummy", dummy_check)
        body = await (await client.get("/api/monitoring/health")).json()
        assert body["checks"]["dummy"]["status"] == "healthy"
        assert body["checks"]["dummy"]["message"] == "Test passed"

    async def test_get_recent_alerts(self, client: LivewatchClient) -> None:
        await client.app[keys.COLLECTOR].process(make_sample(disk=85))
        body = await (await client.get("/api/monitoring/alerts")).json()
        assert len(body["alerts"]) == 1
        assert body["alerts"][0]["level"] == "warning"


class TestEventBroadcaster:
    async def test_emit_event(self, client: LivewatchClient) -> None:
        ws = await connect(client, "?business_id=biz_1")
        result = await client.app[keys.BROADCASTER].emit(
            EventType.BUSINESS_UPDATED, {"test": "data"}, business_id="biz_1"
        )
        assert result.channels == {"business:biz_1": 1}
        frame = await next_of(ws, "event")
        assert (frame["event"], frame["data"]) == ("business.updated", {"test": "data"})

    async def test_emit_system_alert(self, client: LivewatchClient) -> None:
        ws = await connect(client)
        await client.app[keys.BROADCASTER].emit_system_alert(
            "warning", "Test alert", {"detail": "test"}
        )
        frame = await next_of(ws, "event")
        assert frame["channel"] == "global"
        assert frame["data"] == {
            "level": "warning",
            "message": "Test alert",
            "details": {"detail": "test"},
        }

    async def test_emit_helpers_route_to_the_business(self, client: LivewatchClient) -> None:
        ws = await connect(client, "?business_id=b9")
        broadcaster = client.app[keys.BROADCASTER]
        await broadcaster.emit_business_update("b9", {"stage": "growth"})
        await broadcaster.emit_task_progress("b9", "t1", "completed", progress=1.0, result="ok")
        await broadcaster.emit_approval_required("b9", "r1", "Spend 500", "high")
        await broadcaster.emit_kpi_update("b9", {"revenue": 12})
        events = [(await next_of(ws, "event"))["event"] for _ in range(4)]
        assert events == [
            "business.updated",
            "task.completed",
            "approval.required",
            "analytics.kpi_update",
        ]

    async def test_all_twenty_one_event_types(self) -> None:
        # __members__ includes aliases, which plain iteration skips: a repeated value shows.
        names = EventType.__members__
        assert len(names) == 21
        assert len({member.value for member in names.values()}) == 21


async def test_closed_connection_leaves_no_subscription(client: LivewatchClient) -> None:
    ws = await connect(client, "?user_id=u1")
    await ws.close()
    hub = client.app[keys.HUB]
    await eventually(lambda: not hub.connections and not hub.channels)
