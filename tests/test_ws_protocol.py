"""Wire protocol v1 over a real socket."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from app.web import keys
from tests.conftest import (
    AppFactory,
    LivewatchClient,
    connect,
    eventually,
    next_frame,
    next_of,
    publish,
    subscribe,
)

RFC3339_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


async def test_connect_gets_a_welcome_with_auto_subscriptions(client: LivewatchClient) -> None:
    ws = await client.ws_connect("/api/monitoring/ws?user_id=u7&business_id=acme")
    welcome = await next_frame(ws)
    assert welcome["type"] == "connected"
    assert welcome["node"] == "test-node"
    assert welcome["channels"] == ["user:u7", "business:acme", "global"]
    assert re.fullmatch(r"[0-9a-f]{32}", welcome["connection_id"])
    assert RFC3339_UTC.fullmatch(welcome["timestamp"])
    stats = await (await client.get("/api/monitoring/connections")).json()
    assert stats == {
        "total_connections": 1,
        "channels": {"user:u7": 1, "business:acme": 1, "global": 1},
        "nodes": {"test-node": 1},
    }
    assert welcome["auto_subscribed"] is True
    assert isinstance(welcome["epoch"], str) and welcome["epoch"]


async def test_ping_gets_pong(client: LivewatchClient) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "ping"})
    pong = await next_of(ws, "pong")
    assert RFC3339_UTC.fullmatch(pong["timestamp"])


async def test_subscribe_publish_receive_with_seq_rising_by_one(client: LivewatchClient) -> None:
    ws = await connect(client)
    assert await subscribe(ws, "business:acme") == 0
    for n in range(1, 6):
        result = await publish(client, event="task.started", data={"n": n}, business_id="acme")
        assert result == {"channels": {"business:acme": n}, "recipients": 1}
    for n in range(1, 6):
        frame = await next_of(ws, "event")
        assert frame["channel"] == "business:acme"
        assert frame["seq"] == n
        assert frame["event"] == "task.started"
        assert frame["data"] == {"n": n}
        assert RFC3339_UTC.fullmatch(frame["timestamp"])


async def test_subscribed_reports_the_channels_last_seq(client: LivewatchClient) -> None:
    for n in range(3):
        await publish(client, event="task.started", data={"n": n}, channel="business:late")
    ws = await connect(client)
    assert await subscribe(ws, "business:late") == 3
    await publish(client, event="task.started", data={}, channel="business:late")
    assert (await next_of(ws, "event"))["seq"] == 4


async def test_unsubscribe_stops_delivery(client: LivewatchClient) -> None:
    ws = await connect(client)
    await subscribe(ws, "business:acme")
    await ws.send_json({"type": "unsubscribe", "channel": "business:acme"})
    assert await next_of(ws, "unsubscribed") == {"type": "unsubscribed", "channel": "business:acme"}
    result = await publish(client, event="task.started", data={}, business_id="acme")
    assert result["recipients"] == 0
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws))["type"] == "pong", "no event may arrive after unsubscribe"


async def test_empty_channels_are_removed(client: LivewatchClient) -> None:
    ws = await connect(client, "?user_id=u1")
    await subscribe(ws, "business:acme")
    await ws.send_json({"type": "unsubscribe", "channel": "business:acme"})
    await next_of(ws, "unsubscribed")
    hub = client.app[keys.HUB]
    assert "business:acme" not in hub.channels
    await ws.close()
    await eventually(lambda: not hub.channels)
    assert hub.connections == {}


@pytest.mark.parametrize(
    ("frame", "code", "ref"),
    [
        ("{not json", "bad_request", None),
        ("[1, 2, 3]", "bad_request", None),
        ('"a string"', "bad_request", None),
        ('{"channel": "global"}', "bad_request", None),
        ('{"type": 42}', "bad_request", None),
        ('{"type": "launch_missiles"}', "unknown_type", "launch_missiles"),
        ('{"type": "subscribe"}', "bad_request", "subscribe"),
        ('{"type": "unsubscribe"}', "bad_request", "unsubscribe"),
        ('{"type": "subscribe", "channel": 5}', "bad_request", "subscribe"),
        ('{"type": "subscribe", "channel": "Has Spaces"}', "bad_request", "subscribe"),
    ],
)
async def test_bad_frame_gets_an_error_and_the_socket_stays_usable(
    client: LivewatchClient, frame: str, code: str, ref: str | None
) -> None:
    ws = await connect(client)
    await ws.send_str(frame)
    error = await next_of(ws, "error")
    assert error["code"] == code
    assert error["ref"] == ref
    assert isinstance(error["message"], str) and error["message"]
    assert await subscribe(ws, "business:still-works") == 0
    await publish(client, event="task.started", data={}, business_id="still-works")
    assert (await next_of(ws, "event"))["seq"] == 1


async def test_binary_frame_gets_an_error(client: LivewatchClient) -> None:
    ws = await connect(client)
    await ws.send_bytes(b"\x00\x01")
    assert (await next_of(ws, "error"))["code"] == "bad_request"
    await ws.send_json({"type": "ping"})
    assert (await next_of(ws, "pong"))["type"] == "pong"


async def test_registered_handler_gets_application_messages(client: LivewatchClient) -> None:
    received: list[dict[str, object]] = []
    hub = client.app[keys.HUB]

    async def on_ack(conn: object, message: dict[str, object]) -> None:
        received.append(message)

    async def on_broken(conn: object, message: dict[str, object]) -> None:
        raise RuntimeError("bug in the application handler")

    dispatcher = client.app[keys.DISPATCHER]
    dispatcher.register_handler("ack", on_ack)
    dispatcher.register_handler("broken", on_broken)
    ws = await connect(client)
    await ws.send_json({"type": "ack", "id": 9})
    await ws.send_json({"type": "broken"})
    error = await next_of(ws, "error")
    assert error["code"] == "internal_error"
    assert error["ref"] == "broken"
    assert received == [{"type": "ack", "id": 9}]
    assert len(hub.connections) == 1
    with pytest.raises(ValueError, match="built-in"):
        dispatcher.register_handler("ping", on_ack)


async def test_bad_identity_in_query_is_refused(client: LivewatchClient) -> None:
    response = await client.get("/api/monitoring/ws?user_id=" + "x" * 300)
    assert response.status == 400
    assert (await response.json())["field"] == "user_id"


async def test_dead_peer_is_dropped_by_the_heartbeat(make_client: AppFactory) -> None:
    client = await make_client(heartbeat=0.2)
    ws = await client.ws_connect("/api/monitoring/ws", autoping=False)
    hub = client.app[keys.HUB]
    assert len(hub.connections) == 1
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
    await eventually(lambda: not hub.connections)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"type": "\\ud800"}', "frame.type contains a lone surrogate"),
        ('{"type": "ping", "n": NaN}', "NaN is not JSON"),
        ('{"type": "ping", "x": ' + "[" * 80 + "]" * 80 + "}", "nested more than 64"),
    ],
)
async def test_frames_that_parse_but_cannot_be_encoded_get_an_error_frame(
    client: LivewatchClient, raw: str, fragment: str
) -> None:
    ws = await connect(client)
    await ws.send_str(raw)
    error = await next_of(ws, "error")
    assert error["code"] == "bad_request" and fragment in error["message"]
    await ws.send_json({"type": "ping"})
    assert (await next_of(ws, "pong"))["type"] == "pong", "the connection stays open"
