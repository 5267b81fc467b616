"""POST /api/alerts/alertmanager, fed the payloads a real Alertmanager 0.25 sent in
tests/test_alertmanager_live.py (saved in tests/fixtures/alertmanager/): two alerts of one
group firing, then one resolved while the other repeats, then both resolved."""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, connect, next_frame

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "alertmanager"
URL = "/api/alerts/alertmanager"
PUBLISH_KEY = secrets.token_hex(32)


def payload(name: str) -> dict[str, Any]:
    (path,) = FIXTURES.glob(f"{name}*.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return copy.deepcopy(data)


TWO_FIRING = "01-two-firing"
ONE_RESOLVED = "02-one-resolved-one-repeated"
RESOLVED = "03-resolved"


async def post(client: LivewatchClient, body: Any, **kwargs: Any) -> aiohttp.ClientResponse:
    return await client.post(URL, json=body, **kwargs)


async def received(client: LivewatchClient, body: Any) -> dict[str, int]:
    response = await post(client, body)
    assert response.status == 200, await response.text()
    answer: dict[str, int] = await response.json()
    return answer


async def alert_events(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """The system.alert* frames that came before the answer to a ping."""
    await ws.send_json({"type": "ping"})
    frames = []
    while (frame := await next_frame(ws))["type"] != "pong":
        if frame["type"] == "event" and frame["event"].startswith("system.alert"):
            frames.append(frame)
    return frames


@pytest.fixture
async def watcher(client: LivewatchClient) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    ws = await connect(client)
    yield ws
    await ws.close()


def kinds(frames: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(f["event"], f["data"]["labels"]["kind"]) for f in frames]


async def test_each_alert_is_raised_once_and_shown_with_labels_annotations_and_link(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    sent = payload(TWO_FIRING)
    assert await received(client, sent) == {
        "alerts": 2,
        "raised": 2,
        "updated": 0,
        "resolved": 0,
        "unchanged": 0,
        "ignored": 0,
    }
    frames = await alert_events(watcher)
    assert kinds(frames) == [("system.alert", "business"), ("system.alert", "other")]
    assert {f["channel"] for f in frames} == {"global"}
    business = frames[0]["data"]
    original = sent["alerts"][0]
    assert business == {
        "alert_id": business["alert_id"],
        "rule": "LivewatchChannelWatched",
        "metric": "",
        "level": "critical",
        "state": "firing",
        "message": original["annotations"]["summary"],
        "value": None,
        "threshold": None,
        "timestamp": business["timestamp"],
        "source": "alertmanager",
        "key": original["fingerprint"],
        "node": original["labels"]["instance"],
        "started_at": "2026-11-27T03:52:59.558Z",
        "labels": original["labels"],
        "annotations": original["annotations"],
        "generator_url": original["generatorURL"],
        "acknowledged": None,
        "silenced_by": [],
        "details": {},
    }
    body = await (await client.get("/api/monitoring/alerts")).json()
    assert [(a["source"], a["labels"]["kind"]) for a in body["active"]] == [
        ("alertmanager", "business"),
        ("alertmanager", "other"),
    ]
    assert [a["state"] for a in body["alerts"]] == ["firing", "firing"]


async def test_repeated_notifications_update_in_place_and_never_stack(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    await received(client, payload(TWO_FIRING))
    first = await alert_events(watcher)
    store = client.app[keys.STORE]
    stored = await store.count()

    again = await received(client, payload(TWO_FIRING))
    assert (again["raised"], again["unchanged"]) == (0, 2)
    assert await alert_events(watcher) == [], "a repeat announces nothing"
    assert await store.count() == stored, "and stores nothing"

    changed = payload(TWO_FIRING)
    changed["alerts"][1]["annotations"]["description"] = "2 other subscriptions are open."
    assert (await received(client, changed))["updated"] == 1
    (update,) = await alert_events(watcher)
    assert update["event"] == "system.alert"
    assert update["data"]["alert_id"] == first[1]["data"]["alert_id"], "the same alert, in place"
    assert update["data"]["annotations"]["description"] == "2 other subscriptions are open."
    body = await (await client.get("/api/monitoring/alerts")).json()
    assert len(body["active"]) == 2


async def test_resolved_alerts_resolve_once_at_alertmanagers_time(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    await received(client, payload(TWO_FIRING))
    raised = await alert_events(watcher)

    mixed = await received(client, payload(ONE_RESOLVED))
    assert (mixed["resolved"], mixed["unchanged"]) == (1, 1)
    (resolved,) = await alert_events(watcher)
    assert resolved["event"] == "system.alert_resolved"
    assert resolved["data"]["alert_id"] == raised[0]["data"]["alert_id"]
    assert resolved["data"]["state"] == "resolved"
    assert resolved["data"]["timestamp"] == "2026-11-27T03:53:03.558Z", "Alertmanager's endsAt"

    last = await received(client, payload(RESOLVED))
    assert (last["resolved"], last["ignored"]) == (1, 1), "the business alert was resolved already"
    assert kinds(await alert_events(watcher)) == [("system.alert_resolved", "other")]
    body = await (await client.get("/api/monitoring/alerts?state=resolved")).json()
    assert body["active"] == []
    assert [a["labels"]["kind"] for a in body["alerts"]] == ["other", "business"]


async def test_a_resolve_for_an_alert_never_seen_is_ignored(
    client: LivewatchClient, watcher: aiohttp.ClientWebSocketResponse
) -> None:
    assert (await received(client, payload(RESOLVED)))["ignored"] == 2
    assert await alert_events(watcher) == []
    assert await client.app[keys.STORE].count() == 0


async def test_severity_label_gives_the_level_and_only_http_links_are_kept(
    client: LivewatchClient,
) -> None:
    sent = payload(TWO_FIRING)
    sent["alerts"][0]["labels"]["severity"] = "page"
    del sent["alerts"][1]["labels"]["severity"]
    sent["alerts"][1]["generatorURL"] = "javascript:alert(1)"
    del sent["alerts"][1]["annotations"]["summary"]
    await received(client, sent)
    body = await (await client.get("/api/monitoring/alerts")).json()
    business, other = body["active"]
    assert (business["level"], business["labels"]["severity"]) == ("warning", "page")
    assert other["level"] == "warning"
    assert other["generator_url"] == ""
    assert other["message"] == sent["alerts"][1]["annotations"]["description"]


async def test_alerts_from_alertmanager_are_counted_with_bounded_labels(
    client: LivewatchClient,
) -> None:
    await received(client, payload(TWO_FIRING))
    registry = client.app[keys.REGISTRY]
    labels = {"source": "alertmanager", "severity": "critical", "state": "unacknowledged"}
    assert registry.get_sample_value("livewatch_alerts_active", labels) == 2
    text = await (await client.get("/metrics")).text()
    assert "LivewatchChannelWatched" not in text, "alert names never become label values"
    await received(client, payload(RESOLVED))
    assert registry.get_sample_value("livewatch_alerts_active", labels) == 0


async def test_alertmanager_alerts_survive_a_restart(make_client: AppFactory) -> None:
    first = await make_client()
    await received(first, payload(TWO_FIRING))
    before = await (await first.get("/api/monitoring/alerts")).json()
    await first.close()

    second = await make_client()
    after = await (await second.get("/api/monitoring/alerts")).json()
    assert after["active"] == before["active"]
    assert (await received(second, payload(TWO_FIRING)))["unchanged"] == 2
    assert (await received(second, payload(RESOLVED)))["resolved"] == 2


def without(path: str) -> Any:
    """The firing payload with one field removed (a dotted path; [n] for list items)."""
    body = payload(TWO_FIRING)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    del target[int(last) if last.isdigit() else last]
    return body


def with_value(path: str, value: Any) -> Any:
    body = payload(TWO_FIRING)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[int(last) if last.isdigit() else last] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([payload(TWO_FIRING)], "body"),
        (without("version"), "version"),
        (with_value("version", "3"), "version"),
        (with_value("status", "pending"), "status"),
        (without("receiver"), "receiver"),
        (with_value("groupKey", 7), "groupKey"),
        (with_value("commonLabels", []), "commonLabels"),
        (with_value("truncatedAlerts", -1), "truncatedAlerts"),
        (with_value("alerts", {}), "alerts"),
        (with_value("alerts[1]", "firing"), "alerts[1]"),
        (with_value("alerts[0].status", "pending"), "alerts[0].status"),
        (without("alerts[1].labels.alertname"), "alerts[1].labels.alertname"),
        (with_value("alerts[0].labels.job", 1), "alerts[0].labels.job"),
        (with_value("alerts[0].annotations", None), "alerts[0].annotations"),
        (with_value("alerts[1].startsAt", "yesterday"), "alerts[1].startsAt"),
        (with_value("alerts[0].endsAt", "2026-11-27T03:40:51"), "alerts[0].endsAt"),
        (without("alerts[0].generatorURL"), "alerts[0].generatorURL"),
        (with_value("alerts[0].fingerprint", ""), "alerts[0].fingerprint"),
        (with_value("alerts[0].fingerprint", "../x"), "alerts[0].fingerprint"),
    ],
)
async def test_a_malformed_payload_gets_400_naming_the_field(
    client: LivewatchClient, body: Any, field: str
) -> None:
    response = await post(client, body)
    assert response.status == 400
    answer = await response.json()
    assert answer["field"] == field, answer
    assert await client.app[keys.STORE].count() == 0, "nothing of a refused payload is kept"


async def test_a_body_that_is_not_json_gets_400_and_another_type_415(
    client: LivewatchClient,
) -> None:
    headers = {"Content-Type": "application/json"}
    broken = await client.post(URL, data=b'{"version": "4",', headers=headers)
    assert (broken.status, (await broken.json())["error"]) == (400, "body is not valid JSON")
    text = await client.post(URL, data=json.dumps(payload(TWO_FIRING)))
    assert text.status == 415


async def test_unknown_fields_are_allowed_and_unused_ones_may_be_left_out(
    client: LivewatchClient,
) -> None:
    body = payload(TWO_FIRING)
    body["newTopLevel"] = {"x": 1}
    body["alerts"][0]["silencedBy"] = []
    for unused in ("groupLabels", "commonLabels", "commonAnnotations", "externalURL"):
        del body[unused]
    del body["truncatedAlerts"]
    assert (await received(client, body))["raised"] == 2


async def test_a_body_over_the_limit_gets_413(make_client: AppFactory) -> None:
    client = await make_client(max_publish_bytes=4096)
    body = payload(TWO_FIRING)
    body["alerts"][0]["annotations"]["description"] = "x" * 5000
    response = await post(client, body)
    assert response.status == 413
    assert (await response.json())["error"] == "the body is larger than 4096 bytes"
    assert (await received(client, payload(TWO_FIRING)))["raised"] == 2


async def test_with_a_publish_key_alertmanager_must_send_it(make_client: AppFactory) -> None:
    client = await make_client(publish_key=PUBLISH_KEY)
    missing = await post(client, payload(TWO_FIRING))
    assert missing.status == 401
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    wrong = await post(client, payload(TWO_FIRING), headers={"Authorization": "Bearer " + "0" * 64})
    assert wrong.status == 401
    right = await post(
        client, payload(TWO_FIRING), headers={"Authorization": f"Bearer {PUBLISH_KEY}"}
    )
    assert right.status == 200


async def test_with_a_secret_and_no_publish_key_the_webhook_is_off(make_client: AppFactory) -> None:
    client = await make_client(secret=secrets.token_hex(32))
    response = await post(client, payload(TWO_FIRING))
    assert response.status == 401
    assert "LIVEWATCH_PUBLISH_KEY" in (await response.json())["error"]
