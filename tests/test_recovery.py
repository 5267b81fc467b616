"""Recovery: a client that reconnects with `since` gets every missed event once, in order,
or an explicit `recovered: false` with the reason (docs/protocol.md, Recovery)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import aiohttp
import pytest

from app.auth.tokens import issue_token
from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, next_frame, next_of, publish

CHANNEL = "business:rec"


async def open_socket(client: LivewatchClient, query: str = "") -> aiohttp.ClientWebSocketResponse:
    """A connection without auto-subscriptions, as a recovering client opens it."""
    separator = "&" if query else ""
    ws: aiohttp.ClientWebSocketResponse = await client.ws_connect(
        f"/api/monitoring/ws?auto_subscribe=false{separator}{query}"
    )
    hello = await next_frame(ws)
    assert hello["type"] == "connected" and hello["auto_subscribed"] is False
    return ws


async def frames_until_subscribed(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Every frame up to and including `subscribed`."""
    frames = []
    while True:
        frame = await next_frame(ws)
        frames.append(frame)
        if frame["type"] == "subscribed":
            return frames


async def subscribe(
    ws: aiohttp.ClientWebSocketResponse, channel: str, since: dict[str, Any] | None = None
) -> tuple[list[int], dict[str, Any]]:
    """(seqs replayed before `subscribed`, the `subscribed` frame)."""
    message: dict[str, Any] = {"type": "subscribe", "channel": channel}
    if since is not None:
        message["since"] = since
    await ws.send_json(message)
    frames = await frames_until_subscribed(ws)
    replayed = [f["seq"] for f in frames if f["type"] == "event" and f["channel"] == channel]
    return replayed, frames[-1]


async def emit(client: LivewatchClient, count: int, channel: str = CHANNEL) -> list[int]:
    broadcaster = client.app[keys.BROADCASTER]
    seqs = []
    for n in range(count):
        result = await broadcaster.emit("task.started", {"n": n}, channel=channel)
        seqs.append(result.channels[channel])
    return seqs


async def test_a_reconnecting_client_gets_what_it_missed_then_live_events(
    client: LivewatchClient,
) -> None:
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    assert (first["seq"], first.get("recovered")) == (0, None)
    await emit(client, 3)
    seen = [(await next_of(ws, "event"))["seq"] for _ in range(3)]
    await ws.close()

    await emit(client, 4)  # missed while away: seqs 4 to 7
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": seen[-1], "epoch": first["epoch"]})
    assert replayed == [4, 5, 6, 7]
    assert subscribed["recovered"] is True and "reason" not in subscribed
    assert (subscribed["seq"], subscribed["epoch"]) == (7, first["epoch"])
    await emit(client, 1)
    assert (await next_of(ws, "event"))["seq"] == 8


async def test_nothing_missed_is_recovered_with_no_events(client: LivewatchClient) -> None:
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    await ws.close()
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": 0, "epoch": first["epoch"]})
    assert replayed == [] and subscribed["recovered"] is True


async def test_recovering_twice_in_a_row_replays_nothing_twice(client: LivewatchClient) -> None:
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    epoch = first["epoch"]
    await ws.close()
    await emit(client, 2)
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": 0, "epoch": epoch})
    assert replayed == [1, 2]
    await ws.close()
    await emit(client, 1)
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": subscribed["seq"], "epoch": epoch})
    assert replayed == [3] and subscribed["recovered"] is True


async def test_a_gap_beyond_the_history_is_too_old_with_no_partial_replay(
    make_client: AppFactory,
) -> None:
    client = await make_client(history_size=5)
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    await ws.close()
    await emit(client, 8)  # history holds 4 to 8
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": 0, "epoch": first["epoch"]})
    assert replayed == []
    assert (subscribed["recovered"], subscribed["reason"], subscribed["seq"]) == (
        False,
        "too_old",
        8,
    )
    await emit(client, 1)
    assert (await next_of(ws, "event"))["seq"] == 9, "live events carry on after the notice"


async def test_events_older_than_the_history_ttl_are_too_old(make_client: AppFactory) -> None:
    client = await make_client(history_ttl=0.2)
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    await ws.close()
    await emit(client, 2)
    await asyncio.sleep(0.3)
    ws = await open_socket(client)
    _, subscribed = await subscribe(ws, CHANNEL, {"seq": 0, "epoch": first["epoch"]})
    assert (subscribed["recovered"], subscribed["reason"]) == (False, "too_old")


async def test_more_missed_than_the_recovery_limit_is_too_many(make_client: AppFactory) -> None:
    client = await make_client(recovery_limit=3)
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    await ws.close()
    await emit(client, 4)
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": 0, "epoch": first["epoch"]})
    assert replayed == []
    assert (subscribed["recovered"], subscribed["reason"]) == (False, "too_many")
    replayed, subscribed = await subscribe(
        await open_socket(client), CHANNEL, {"seq": 1, "epoch": first["epoch"]}
    )
    assert replayed == [2, 3, 4] and subscribed["recovered"] is True


async def test_a_server_restart_is_epoch_changed(make_client: AppFactory) -> None:
    before = await make_client()
    ws = await open_socket(before)
    _, first = await subscribe(ws, CHANNEL)
    await emit(before, 2)
    hello_before = await next_frame(await before.ws_connect("/api/monitoring/ws"))
    await before.close()

    after = await make_client()  # a new process: the memory broker's history is gone
    hello_after = await next_frame(await after.ws_connect("/api/monitoring/ws"))
    assert hello_after["node"] == hello_before["node"]
    assert hello_after["epoch"] != hello_before["epoch"], "a client can tell a restart"
    ws = await open_socket(after)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": 2, "epoch": first["epoch"]})
    assert replayed == []
    assert (subscribed["recovered"], subscribed["reason"]) == (False, "epoch_changed")
    assert subscribed["epoch"] != first["epoch"]


async def test_since_ahead_of_the_channel_is_epoch_changed(client: LivewatchClient) -> None:
    ws = await open_socket(client)
    _, first = await subscribe(ws, CHANNEL)
    await ws.close()
    ws = await open_socket(client)
    _, subscribed = await subscribe(ws, CHANNEL, {"seq": 5, "epoch": first["epoch"]})
    assert (subscribed["recovered"], subscribed["reason"]) == (False, "epoch_changed")


@pytest.mark.parametrize(
    ("since", "fragment"),
    [
        (3, "'since' must be an object"),
        ({"seq": 3}, "'since' must be an object"),
        ({"seq": -1, "epoch": "x"}, "'since.seq' must be an integer >= 0"),
        ({"seq": True, "epoch": "x"}, "'since.seq' must be an integer >= 0"),
        ({"seq": 1, "epoch": ""}, "'since.epoch' must be the epoch string"),
        ({"seq": 1, "epoch": "x" * 65}, "'since.epoch' must be the epoch string"),
    ],
)
async def test_a_malformed_since_gets_an_error_frame_and_the_connection_stays(
    client: LivewatchClient, since: Any, fragment: str
) -> None:
    ws = await open_socket(client)
    await ws.send_json({"type": "subscribe", "channel": CHANNEL, "since": since})
    error = await next_of(ws, "error")
    assert (error["code"], error["ref"]) == ("bad_request", "subscribe")
    assert fragment in error["message"]
    await ws.send_json({"type": "ping"})
    assert (await next_of(ws, "pong"))["type"] == "pong"


async def test_since_on_an_auto_subscribed_channel_is_refused(client: LivewatchClient) -> None:
    ws = await client.ws_connect("/api/monitoring/ws?business_id=rec")
    assert (await next_frame(ws))["auto_subscribed"] is True
    await ws.send_json({"type": "subscribe", "channel": CHANNEL, "since": {"seq": 0, "epoch": "e"}})
    error = await next_of(ws, "error")
    assert "already subscribed" in error["message"] and "auto_subscribe=false" in error["message"]


async def test_bad_auto_subscribe_value_is_a_400(client: LivewatchClient) -> None:
    response = await client.get("/api/monitoring/ws?auto_subscribe=maybe")
    assert response.status == 400
    assert (await response.json())["field"] == "auto_subscribe"


# --- the history endpoint -------------------------------------------------------------------


async def test_history_returns_the_latest_events_and_the_position_to_continue_from(
    client: LivewatchClient,
) -> None:
    await emit(client, 60)
    body = await (await client.get(f"/api/channels/{CHANNEL}/history")).json()
    assert [e["seq"] for e in body["events"]] == list(range(11, 61)), "the latest 50"
    assert body["events"][0] == {
        "channel": CHANNEL,
        "seq": 11,
        "event": "task.started",
        "data": {"n": 10},
        "timestamp": body["events"][0]["timestamp"],
    }
    assert (body["seq"], body["complete"]) == (60, True)

    page = await (await client.get(f"/api/channels/{CHANNEL}/history?since=55&limit=3")).json()
    assert [e["seq"] for e in page["events"]] == [56, 57, 58]
    assert page["complete"] is False, "cut short by the limit: 59 and 60 are still to read"
    rest = await (await client.get(f"/api/channels/{CHANNEL}/history?since=58&limit=3")).json()
    assert [e["seq"] for e in rest["events"]] == [59, 60] and rest["complete"] is True

    ws = await open_socket(client)
    replayed, subscribed = await subscribe(
        ws, CHANNEL, {"seq": body["seq"], "epoch": body["epoch"]}
    )
    assert replayed == [] and subscribed["recovered"] is True


async def test_history_says_when_events_have_left_it(make_client: AppFactory) -> None:
    client = await make_client(history_size=5)
    await emit(client, 9)
    body = await (await client.get(f"/api/channels/{CHANNEL}/history?since=2")).json()
    assert [e["seq"] for e in body["events"]] == [5, 6, 7, 8, 9]
    assert body["complete"] is False
    empty = await (await client.get("/api/channels/business:none/history")).json()
    assert (empty["events"], empty["seq"], empty["complete"]) == ([], 0, True)


@pytest.mark.parametrize(
    ("query", "field"),
    [("?limit=0", "limit"), ("?limit=5_0", "limit"), ("?since=-1", "since"), ("?since=٣", "since")],
)
async def test_history_refuses_bad_parameters(
    client: LivewatchClient, query: str, field: str
) -> None:
    response = await client.get(f"/api/channels/{CHANNEL}/history{query}")
    assert response.status == 400
    assert (await response.json())["field"] == field


async def test_recovery_and_history_apply_the_subscribe_permissions(
    make_client: AppFactory,
) -> None:
    secret = secrets.token_hex(32)
    client = await make_client(secret=secret)
    await emit(client, 2, channel="business:theirs")
    token = issue_token(secret, "u1", ["mine"], 3600)

    own = await client.get(
        "/api/channels/business:mine/history", headers={"Authorization": f"Bearer {token}"}
    )
    assert own.status == 200
    theirs = await client.get(f"/api/channels/business:theirs/history?token={token}")
    assert theirs.status == 403
    anonymous = await client.get("/api/channels/business:mine/history")
    assert anonymous.status == 401

    ws: aiohttp.ClientWebSocketResponse = await client.ws_connect(
        f"/api/monitoring/ws?auto_subscribe=false&token={token}"
    )
    await next_frame(ws)
    await ws.send_json(
        {"type": "subscribe", "channel": "business:theirs", "since": {"seq": 0, "epoch": "e"}}
    )
    error = await next_of(ws, "error")
    assert error["code"] == "forbidden"
    await ws.send_json({"type": "ping"})
    assert (await next_frame(ws))["type"] == "pong", "no replayed event leaked before the error"


# --- idempotent publish ------------------------------------------------------------------


async def test_a_repeated_publish_gets_the_first_answer_and_publishes_once(
    client: LivewatchClient,
) -> None:
    ws = await open_socket(client)
    await subscribe(ws, CHANNEL)
    body = {"event": "task.started", "data": {"n": 1}, "channel": CHANNEL}
    headers = {"Idempotency-Key": "k-1"}
    first = await client.post("/api/events", json=body, headers=headers)
    again = await client.post("/api/events", json=body, headers=headers)
    assert first.status == again.status == 202
    assert await first.json() == await again.json() == {"channels": {CHANNEL: 1}, "recipients": 1}
    assert "Idempotent-Replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    field = await publish(client, **body, idempotency_key="k-1")
    assert field["channels"] == {CHANNEL: 1}, "the body field is the same key"
    assert (await publish(client, **body))["channels"] == {CHANNEL: 2}
    seqs = [(await next_of(ws, "event"))["seq"] for _ in range(2)]
    assert seqs == [1, 2], "the repeats published nothing"


async def test_concurrent_repeats_publish_once(client: LivewatchClient) -> None:
    body = {"event": "task.started", "data": {}, "channel": CHANNEL}
    answers = await asyncio.gather(
        *(
            client.post("/api/events", json=body, headers={"Idempotency-Key": "same"})
            for _ in range(10)
        )
    )
    results = [await answer.json() for answer in answers]
    assert all(result == {"channels": {CHANNEL: 1}, "recipients": 0} for result in results)
    history = await (await client.get(f"/api/channels/{CHANNEL}/history")).json()
    assert history["seq"] == 1


@pytest.mark.parametrize(
    ("headers", "extra", "status", "fragment"),
    [
        ({"Idempotency-Key": "k"}, {"idempotency_key": "other"}, 400, "differ"),
        ({"Idempotency-Key": "x" * 256}, {}, 400, "1-255 printable"),
        ({}, {"idempotency_key": 7}, 400, "1-255 printable"),
    ],
)
async def test_bad_idempotency_keys_are_refused(
    client: LivewatchClient,
    headers: dict[str, str],
    extra: dict[str, Any],
    status: int,
    fragment: str,
) -> None:
    body = {"event": "task.started", "data": {}, "channel": CHANNEL, **extra}
    response = await client.post("/api/events", json=body, headers=headers)
    assert response.status == status
    error = await response.json()
    assert error["field"] == "idempotency_key" and fragment in error["error"]


async def test_a_key_reused_for_another_event_is_422(client: LivewatchClient) -> None:
    headers = {"Idempotency-Key": "reused"}
    first = {"event": "task.started", "data": {"n": 1}, "channel": CHANNEL}
    assert (await client.post("/api/events", json=first, headers=headers)).status == 202
    other = {**first, "data": {"n": 2}}
    response = await client.post("/api/events", json=other, headers=headers)
    assert response.status == 422
    assert (await response.json())["field"] == "idempotency_key"


async def test_idempotency_keys_expire_after_the_window(make_client: AppFactory) -> None:
    client = await make_client(idempotency_window=0.2)
    body = {"event": "task.started", "data": {}, "channel": CHANNEL}
    headers = {"Idempotency-Key": "short"}
    await client.post("/api/events", json=body, headers=headers)
    await asyncio.sleep(0.3)
    again = await (await client.post("/api/events", json=body, headers=headers)).json()
    assert again["channels"] == {CHANNEL: 2}


async def test_a_client_at_seq_0_recovers_whatever_epoch_it_holds(client: LivewatchClient) -> None:
    await emit(client, 2)
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, CHANNEL, {"seq": 0, "epoch": "from-before"})
    assert replayed == [1, 2] and subscribed["recovered"] is True


async def test_history_limit_past_the_history_size_returns_what_is_held(
    make_client: AppFactory,
) -> None:
    client = await make_client(history_size=5)
    await emit(client, 7)
    body = await (await client.get(f"/api/channels/{CHANNEL}/history?limit=50")).json()
    assert [e["seq"] for e in body["events"]] == [3, 4, 5, 6, 7]


async def test_reading_a_channel_nobody_used_has_the_epoch_its_first_event_gets(
    client: LivewatchClient,
) -> None:
    cold = await (await client.get("/api/channels/business:later/history")).json()
    assert (cold["seq"], cold["events"]) == (0, [])
    await emit(client, 1, channel="business:later")
    ws = await open_socket(client)
    replayed, subscribed = await subscribe(ws, "business:later", {"seq": 0, "epoch": cold["epoch"]})
    assert subscribed["epoch"] == cold["epoch"] and replayed == [1]
