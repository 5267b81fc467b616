"""POST /api/events: validation, routing and the 202 answer."""

from __future__ import annotations

from typing import Any

import pytest

from app.web import keys
from tests.conftest import LivewatchClient, connect, next_frame, next_of, publish, subscribe


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"data": {}}, "event", "required"),
        ({"event": 5, "data": {}, "channel": "global"}, "event", "dotted"),
        ({"event": "NoDots", "data": {}, "channel": "global"}, "event", "dotted"),
        ({"event": "task.started", "channel": "global"}, "data", "required"),
        ({"event": "task.started", "data": [1], "channel": "global"}, "data", "object"),
        ({"event": "task.started", "data": {}, "business_id": ""}, "business_id", "characters"),
        ({"event": "task.started", "data": {}, "user_id": 7}, "user_id", "characters"),
        ({"event": "task.started", "data": {}, "channel": "bad channel"}, "channel", "string like"),
        ({"event": "task.started", "data": {}, "bussiness_id": "x"}, "bussiness_id", "unknown"),
        ({"event": "task.started", "data": {}}, "channel", "no destination"),
    ],
)
async def test_bad_body_gets_400_naming_the_field(
    client: LivewatchClient, body: dict[str, Any], field: str, fragment: str
) -> None:
    response = await client.post("/api/events", json=body)
    assert response.status == 400
    error = await response.json()
    assert error["field"] == field
    assert fragment in error["error"]


async def test_body_that_is_not_json_gets_400(client: LivewatchClient) -> None:
    response = await client.post(
        "/api/events", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert (await response.json())["error"] == "body is not valid JSON"


async def test_body_that_is_not_an_object_gets_400(client: LivewatchClient) -> None:
    response = await client.post("/api/events", json=["task.started"])
    assert response.status == 400
    assert "object" in (await response.json())["error"]


async def test_non_json_content_type_gets_415(client: LivewatchClient) -> None:
    response = await client.post("/api/events", data=b"event=task.started")
    assert response.status == 415
    assert "application/json" in (await response.json())["error"]


async def test_event_with_business_and_user_goes_to_both(client: LivewatchClient) -> None:
    ws = await connect(client, "?user_id=u1&business_id=acme")
    result = await publish(
        client, event="approval.required", data={"title": "t"}, business_id="acme", user_id="u1"
    )
    assert result == {"channels": {"business:acme": 1, "user:u1": 1}, "recipients": 2}
    channels = {(await next_of(ws, "event"))["channel"] for _ in range(2)}
    assert channels == {"business:acme", "user:u1"}


async def test_system_events_go_to_global_and_metrics_to_system(client: LivewatchClient) -> None:
    ws = await connect(client)
    broadcaster = client.app[keys.BROADCASTER]
    result = await broadcaster.emit("system.alert", {"level": "warning"})
    assert list(result.channels) == ["global"]
    frame = await next_of(ws, "event")
    assert (frame["channel"], frame["event"]) == ("global", "system.alert")
    result = await broadcaster.emit("system.metric", {})
    assert list(result.channels) == ["system"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "system.metric", "data": {"cpu_percent": 99}}, "event"),
        ({"event": "system.alert", "data": {}, "channel": "global"}, "event"),
        ({"event": "system.health", "data": {}, "business_id": "acme"}, "event"),
        ({"event": "metric.faked", "data": {"cpu_percent": 99}, "channel": "system"}, "channel"),
    ],
)
async def test_livewatchs_own_events_and_channel_cannot_be_published_over_http(
    client: LivewatchClient, body: dict[str, Any], field: str
) -> None:
    ws = await connect(client)
    await subscribe(ws, "system")
    response = await client.post("/api/events", json=body)
    assert response.status == 403
    assert (await response.json())["field"] == field
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws))["type"] == "pong", "nothing reached the subscribers"


async def test_explicit_channel_is_honoured(client: LivewatchClient) -> None:
    ws = await connect(client)
    await subscribe(ws, "playbooks")
    result = await publish(client, event="playbook.started", data={"id": 1}, channel="playbooks")
    assert result == {"channels": {"playbooks": 1}, "recipients": 1}
    assert (await next_of(ws, "event"))["data"] == {"id": 1}


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ('{"name": "a\\ud800b"}', "data.name contains a lone surrogate"),
        ('{"ok": 1, "x": NaN}', "NaN is not JSON"),
        ('{"x": Infinity}', "Infinity is not JSON"),
        ('{"deep": ' + "[" * 70 + "]" * 70 + "}", "nested more than 64 levels"),
    ],
)
async def test_data_that_cannot_be_sent_on_is_refused_and_takes_no_seq(
    client: LivewatchClient, data: str, fragment: str
) -> None:
    ws = await connect(client, "?business_id=enc")
    body = '{"event": "task.started", "business_id": "enc", "data": ' + data + "}"
    refused = await client.post(
        "/api/events", data=body, headers={"Content-Type": "application/json"}
    )
    assert refused.status == 400
    assert fragment in (await refused.json())["error"]
    accepted = await publish(client, event="task.started", data={"ok": True}, business_id="enc")
    assert accepted["channels"] == {"business:enc": 1}, "the refused event used up no seq"
    assert (await next_of(ws, "event"))["seq"] == 1
