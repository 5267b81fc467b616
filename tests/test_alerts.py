"""Threshold alerts: fire once, change once, resolve once, and survive a restart."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from app.monitor.alerts import ThresholdRule
from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, connect, next_frame
from tests.samples import make_sample


async def alert_frames(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every system.alert* event received until a pong (the ping marks the end)."""
    await ws.send_json({"type": "ping"})
    frames = []
    while (frame := await next_frame(ws))["type"] != "pong":
        if frame["type"] == "event" and frame["event"].startswith("system.alert"):
            frames.append(frame)
    return frames


async def test_alert_fires_once_and_resolves_once(client: LivewatchClient) -> None:
    ws = await connect(client)
    collector = client.app[keys.COLLECTOR]
    for cpu in (50, 80, 85, 82, 77, 72):  # 72 is above 75 - 5: still firing
        await collector.process(make_sample(cpu=cpu))
    fired = await alert_frames(ws)
    assert len(fired) == 1
    assert fired[0]["event"] == "system.alert"
    assert fired[0]["channel"] == "global"
    data = fired[0]["data"]
    assert (data["rule"], data["level"], data["state"], data["value"]) == (
        "cpu",
        "warning",
        "firing",
        80,
    )
    assert data["threshold"] == 75
    assert data["message"] == "CPU usage high: 80.0% (warning at 75%)"

    for cpu in (69, 60, 10):
        await collector.process(make_sample(cpu=cpu))
    resolved = await alert_frames(ws)
    assert len(resolved) == 1
    assert resolved[0]["event"] == "system.alert_resolved"
    assert resolved[0]["data"]["alert_id"] == data["alert_id"]
    assert resolved[0]["data"]["state"] == "resolved"
    assert resolved[0]["data"]["value"] == 69

    body = await (await client.get("/api/monitoring/alerts")).json()
    assert [(a["state"], a["level"]) for a in body["alerts"]] == [
        ("resolved", "warning"),
        ("firing", "warning"),
    ]
    assert body["active"] == []


async def test_level_changes_are_announced_once_each(client: LivewatchClient) -> None:
    ws = await connect(client)
    collector = client.app[keys.COLLECTOR]
    for memory in (85, 95, 96, 88, 86, 84, 74):
        await collector.process(make_sample(memory=memory))
    frames = await alert_frames(ws)
    assert [(f["event"], f["data"]["level"], f["data"]["value"]) for f in frames] == [
        ("system.alert", "warning", 85),
        ("system.alert", "critical", 95),
        ("system.alert", "warning", 84),
        ("system.alert_resolved", "warning", 74),
    ]
    assert len({f["data"]["alert_id"] for f in frames}) == 1, "one incident keeps one id"


@pytest.mark.parametrize(
    ("current", "value", "expected"),
    [
        (None, 75.0, None),
        (None, 75.1, "warning"),
        (None, 91, "critical"),
        ("warning", 70.1, "warning"),
        ("warning", 69.9, None),
        ("critical", 85.5, "critical"),
        ("critical", 84.9, "warning"),
        ("critical", 60, None),
        ("warning", 95, "critical"),
    ],
)
def test_rule_levels_with_hysteresis(
    current: str | None, value: float, expected: str | None
) -> None:
    rule = ThresholdRule("cpu", "cpu_percent", "CPU", warning=75, critical=90)
    assert rule.next_level(current, value, hysteresis=5) == expected


async def test_thresholds_are_configurable(make_client: AppFactory) -> None:
    client = await make_client(disk_warning=50, disk_critical=60, alert_hysteresis=1)
    collector = client.app[keys.COLLECTOR]
    await collector.process(make_sample(disk=55))
    await collector.process(make_sample(disk=48.5))
    body = await (await client.get("/api/monitoring/alerts")).json()
    assert [(a["rule"], a["state"]) for a in body["alerts"]] == [
        ("disk", "resolved"),
        ("disk", "firing"),
    ]


async def test_alerts_survive_a_restart_and_do_not_fire_twice(make_client: AppFactory) -> None:
    first = await make_client()
    await first.app[keys.COLLECTOR].process(make_sample(cpu=95))
    await first.close()

    second = await make_client()
    body = await (await second.get("/api/monitoring/alerts")).json()
    assert [(a["rule"], a["level"], a["state"]) for a in body["alerts"]] == [
        ("cpu", "critical", "firing")
    ]
    assert [a["rule"] for a in body["active"]] == ["cpu"]
    ws = await connect(second)
    await second.app[keys.COLLECTOR].process(make_sample(cpu=96))
    assert await alert_frames(ws) == [], "an alert still firing after a restart is not new"
    await second.app[keys.COLLECTOR].process(make_sample(cpu=10))
    assert [f["event"] for f in await alert_frames(ws)] == ["system.alert_resolved"]


async def test_alert_history_is_bounded_and_newest_first(make_client: AppFactory) -> None:
    client = await make_client(alert_history_limit=4)
    collector = client.app[keys.COLLECTOR]
    for _ in range(5):
        await collector.process(make_sample(cpu=95))
        await collector.process(make_sample(cpu=5))
    store = client.app[keys.STORE]
    assert await store.count() == 4
    body = await (await client.get("/api/monitoring/alerts?limit=3")).json()
    assert [a["state"] for a in body["alerts"]] == ["resolved", "firing", "resolved"]
    stamps = [a["timestamp"] for a in body["alerts"]]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "100000"])
async def test_bad_alert_limit_gets_400(client: LivewatchClient, limit: str) -> None:
    response = await client.get(f"/api/monitoring/alerts?limit={limit}")
    assert response.status == 400
    assert (await response.json())["field"] == "limit"


async def test_firing_alerts_are_exported_to_prometheus(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    await client.app[keys.COLLECTOR].process(make_sample(memory=93))
    labels = {"rule": "memory", "severity": "critical"}
    assert registry.get_sample_value("livewatch_alerts_firing", labels) == 1
    await client.app[keys.COLLECTOR].process(make_sample(memory=20))
    assert registry.get_sample_value("livewatch_alerts_firing", labels) == 0
