"""A real Prometheus fires a rule, a real Alertmanager posts it to livewatch's webhook, and
livewatch raises and resolves it like its own alerts: over real sockets, with a secret and
a publish key as in production. The payloads Alertmanager sent are saved under
test-artifacts/ (tests/fixtures/alertmanager/ holds them for the webhook's unit tests).

Skips where prometheus or prometheus-alertmanager is missing; fails under CI=true.
"""

from __future__ import annotations

import json
import secrets
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.auth.tokens import issue_token
from tests.alerting_stack import ALERTNAME, GROUP_INTERVAL, GROUP_WAIT, alerting_stack
from tests.servers import ServerProcess
from tests.test_cli import ROOT

pytestmark = pytest.mark.prometheus

ARTIFACTS = ROOT / "test-artifacts" / "alertmanager-payloads"


async def next_alert_event(
    ws: aiohttp.ClientWebSocketResponse, event: str, within: float
) -> dict[str, Any]:
    """The data of the next `event` about an alert from Alertmanager."""
    deadline = time.monotonic() + within
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {event} within {within}s"
        message = await ws.receive(timeout=remaining)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frame = json.loads(message.data)
        if frame.get("event") == event and frame["data"].get("source") == "alertmanager":
            data: dict[str, Any] = frame["data"]
            return data


async def watch_channels(
    session: aiohttp.ClientSession, base: str, secret: str
) -> aiohttp.ClientWebSocketResponse:
    """A client of business:e2e (from its token) and deploys:prod (granted, subscribed):
    the two kinds of channel the test rule fires for."""
    viewer = issue_token(secret, "viewer", ["e2e"], 600, channels=["deploys:*"])
    ws = await session.ws_connect(f"{base}/api/monitoring/ws?token={viewer}")
    await ws.send_json({"type": "subscribe", "channel": "deploys:prod"})
    while True:
        frame = json.loads((await ws.receive(timeout=5)).data)
        if frame["type"] == "subscribed":
            assert frame["channel"] == "deploys:prod"
            return ws


async def test_prometheus_and_alertmanager_raise_and_resolve_alerts(tmp_path: Path) -> None:
    secret, key = secrets.token_hex(32), secrets.token_hex(32)
    server = ServerProcess(tmp_path, LIVEWATCH_SECRET=secret, LIVEWATCH_PUBLISH_KEY=key)
    await server.start()
    reader = issue_token(secret, "reader", [], 600)
    auth = {"Authorization": f"Bearer {reader}"}
    instance = f"127.0.0.1:{server.port}"
    try:
        async with (
            alerting_stack(tmp_path, instance, key) as stack,
            aiohttp.ClientSession() as session,
        ):
            watcher = await session.ws_connect(f"{server.url}/api/monitoring/ws?token={reader}")
            # A viewer of business:e2e and deploys:prod: one alert per channel kind fires,
            # both in one notification.
            subscriber = await watch_channels(session, server.url, secret)
            active_at = await stack.firing(session, count=2, within=30)
            raised = [
                await next_alert_event(watcher, "system.alert", within=GROUP_WAIT + 10)
                for _ in range(2)
            ]
            latency = time.time() - active_at
            print(f"\nfiring in Prometheus -> system.alert on a socket: {latency:.2f} s")
            assert latency <= GROUP_WAIT + 2, "Alertmanager's group_wait, and little more"
            by_kind = {alert["labels"]["kind"]: alert for alert in raised}
            assert set(by_kind) == {"other", "business"}
            business = by_kind["business"]
            assert business["rule"] == ALERTNAME
            assert (business["level"], business["state"]) == ("critical", "firing")
            assert business["message"] == f"Someone watches business channels on {instance}"
            assert business["labels"]["team"] == "e2e"
            assert business["annotations"]["description"] == "1 business subscriptions are open."
            assert business["generator_url"].startswith(stack.prometheus + "/graph?")
            assert business["node"] == instance
            firing = await stack.relay.next_delivery("firing", within=5)
            assert (firing.status, len(firing.body["alerts"])) == (200, 2), firing.answer
            assert json.loads(firing.answer)["raised"] == 2

            # The business channel is left: its alert resolves, the other one is repeated
            # in the same notification and stays as it was.
            await subscriber.send_json({"type": "unsubscribe", "channel": "business:e2e"})
            await stack.down_to(session, 1, within=30)
            resolved = await next_alert_event(
                watcher, "system.alert_resolved", within=GROUP_INTERVAL + 10
            )
            assert resolved["alert_id"] == business["alert_id"]
            mixed = await stack.relay.next_delivery("firing", within=5)
            assert sorted(a["status"] for a in mixed.body["alerts"]) == ["firing", "resolved"]
            assert json.loads(mixed.answer) == {
                "alerts": 2,
                "raised": 0,
                "updated": 0,
                "resolved": 1,
                "unchanged": 1,
                "ignored": 0,
            }
            async with session.get(f"{server.url}/api/monitoring/alerts", headers=auth) as got:
                body = await got.json()
            (active,) = [a for a in body["active"] if a["source"] == "alertmanager"]
            assert active["alert_id"] == by_kind["other"]["alert_id"]

            # Nobody watches any more.
            await subscriber.close()
            await stack.down_to(session, 0, within=30)
            last = await next_alert_event(
                watcher, "system.alert_resolved", within=GROUP_INTERVAL + 10
            )
            announced = time.time()
            assert last["alert_id"] == by_kind["other"]["alert_id"]
            delivery = await stack.relay.next_delivery("resolved", within=5)
            assert json.loads(delivery.answer)["resolved"] == 1
            ends = max(datetime.fromisoformat(a["endsAt"]) for a in delivery.body["alerts"])
            took = announced - ends.timestamp()
            print(f"resolved in Prometheus -> system.alert_resolved: {took:.2f} s")
            assert took <= GROUP_INTERVAL + 2
            async with session.get(
                f"{server.url}/api/monitoring/alerts?state=resolved", headers=auth
            ) as got:
                body = await got.json()
            assert body["active"] == []
            assert [a["alert_id"] for a in body["alerts"]] == [
                by_kind["other"]["alert_id"],
                business["alert_id"],
            ]
            await watcher.close()
            stack.relay.save(ARTIFACTS)
    finally:
        await server.stop()
