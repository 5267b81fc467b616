"""The livewatch_client package against real livewatch servers over real sockets."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from livewatch_client import (
    Backoff,
    Client,
    Event,
    HandshakeError,
    NotRecovered,
    Position,
    Reason,
    RequestError,
    Subscription,
    SubscriptionError,
    Unavailable,
)

from app.auth.tokens import issue_token
from app.settings import Settings
from tests.conftest import eventually, free_port, with_settings
from tests.proxy import TcpProxy
from tests.servers import InProcessServer, ServerProcess


def fast_client(
    url: str,
    token: str | None = None,
    *,
    publish_key: str | None = None,
    attempts: int = 5,
    ping_interval: float = 15.0,
    ping_timeout: float = 10.0,
    heartbeat: float | None = 30.0,
    connect_timeout: float = 2.0,
) -> Client:
    """Short delays and timeouts: a test should not wait out production defaults."""
    return Client(
        url,
        token,
        publish_key=publish_key,
        min_delay=0.02,
        max_delay=0.3,
        connect_timeout=connect_timeout,
        request_timeout=5.0,
        attempts=attempts,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        heartbeat=heartbeat,
    )


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[InProcessServer]:
    server = InProcessServer(settings)
    await server.start()
    yield server
    await server.stop()


async def take(sub: Subscription, count: int, within: float = 10.0) -> list[Event]:
    got: list[Event] = []
    async with asyncio.timeout(within):
        async for event in sub:
            got.append(event)
            if len(got) == count:
                break
    return got


async def publish_many(client: Client, count: int, business: str = "acme") -> list[int]:
    seqs = []
    for number in range(count):
        answer = await client.publish("task.started", {"n": number}, business_id=business)
        seqs.append(answer.channels[f"business:{business}"])
    return seqs


async def test_subscribe_yields_each_event_with_its_fields(server: InProcessServer) -> None:
    async with fast_client(server.url) as client:
        async with client.subscribe("business:acme") as sub:
            assert sub.position is not None and sub.position.seq == 0
            answer = await client.publish("task.started", {"task_id": "t1"}, business_id="acme")
            assert answer.channels == {"business:acme": 1}
            assert answer.recipients == 1 and not answer.replayed
            await publish_many(client, 2)
            events = await take(sub, 3)
        assert [e.seq for e in events] == [1, 2, 3]
        first = events[0]
        assert (first.channel, first.event, first.data) == (
            "business:acme",
            "task.started",
            {"task_id": "t1"},
        )
        assert first.timestamp.endswith("Z") and first.time.tzinfo is not None
        assert sub.position is not None and sub.position.seq == 3
        assert client.connects == 1


async def test_only_the_channels_asked_for_are_subscribed(server: InProcessServer) -> None:
    async with fast_client(server.url) as client, client.subscribe("business:acme") as sub:
        await client.publish("task.started", {}, business_id="other")
        await client.publish("deploy.finished", {}, channel="global")
        await client.publish("task.started", {}, business_id="acme")
        (event,) = await take(sub, 1)
        assert event.channel == "business:acme"
        with pytest.raises(ValueError, match="already subscribed"):
            await client.subscribe("business:acme").__aenter__()


async def test_a_publish_whose_answer_was_lost_is_retried_and_published_once(
    server: InProcessServer,
) -> None:
    proxy = TcpProxy(server.port)
    await proxy.start()
    proxy.lose_answers = 1  # the first attempt reaches the server; its answer does not come back
    try:
        async with fast_client(proxy.url) as client:
            answer = await client.publish("task.started", {"task_id": "t1"}, business_id="acme")
            history = await client.history("business:acme")
    finally:
        await proxy.close()
    assert proxy.answers_lost == 1 and proxy.accepted >= 2
    assert answer.replayed, "the retry got the first attempt's answer"
    assert answer.channels == {"business:acme": 1}
    assert [e.seq for e in history.events] == [1], "published exactly once"


async def test_publish_refused_raises_the_servers_error_and_field(server: InProcessServer) -> None:
    async with fast_client(server.url) as client:
        with pytest.raises(RequestError) as refused:
            await client.publish("deploy", {}, business_id="acme")
        assert refused.value.status == 400
        assert refused.value.field == "event"
        assert "dotted lower-case" in refused.value.error
        with pytest.raises(RequestError) as no_route:
            await client.publish("task.started", {})
        assert no_route.value.status == 400 and no_route.value.field == "channel"


async def test_publish_sends_the_publish_key(settings: Settings) -> None:
    key = "p" * 40
    server = InProcessServer(with_settings(settings, publish_key=key))
    await server.start()
    try:
        async with fast_client(server.url, publish_key=key) as client:
            answer = await client.publish("task.started", {}, channel="jobs")
            assert answer.channels == {"jobs": 1}
        async with fast_client(server.url, publish_key="q" * 40) as client:
            with pytest.raises(RequestError) as wrong:
                await client.publish("task.started", {}, channel="jobs")
            assert wrong.value.status == 401 and "wrong" in wrong.value.error
    finally:
        await server.stop()


async def test_publish_gives_up_after_its_attempts_when_nobody_listens() -> None:
    async with fast_client(f"http://127.0.0.1:{free_port()}", attempts=3) as client:
        with pytest.raises(Unavailable) as failed:
            await client.publish("task.started", {}, business_id="acme")
    assert failed.value.attempts == 3
    assert "after 3 attempts" in str(failed.value)


async def test_a_server_restart_surfaces_not_recovered_then_goes_on(
    server: InProcessServer,
) -> None:
    async with fast_client(server.url) as client, client.subscribe("business:acme") as sub:
        await publish_many(client, 2)
        assert [e.seq for e in await take(sub, 2)] == [1, 2]
        old_epoch = sub.position.epoch if sub.position else None

        await server.restart()  # same port, a new process's worth of state
        with pytest.raises(NotRecovered) as gap:
            await take(sub, 1)
        assert gap.value.reason == Reason.EPOCH_CHANGED
        assert str(gap.value.reason) == "epoch_changed"
        assert gap.value.channel == "business:acme"
        assert gap.value.position.epoch != old_epoch
        assert sub.position == gap.value.position
        assert client.connects == 2

        # Iteration goes on from the new position.
        await publish_many(client, 1)
        (event,) = await take(sub, 1)
        assert event.seq == gap.value.position.seq + 1


async def test_a_reset_socket_is_recovered_with_every_seq_exactly_once(
    server: InProcessServer,
) -> None:
    proxy = TcpProxy(server.port)
    await proxy.start()
    try:
        async with (
            fast_client(proxy.url) as client,
            fast_client(server.url) as publisher,
            client.subscribe("business:acme") as sub,
        ):
            await publish_many(publisher, 3)
            seen = await take(sub, 3)

            await proxy.refuse()  # reconnects fail until resume
            assert proxy.cut() == 1
            await publish_many(publisher, 5)  # missed while cut off
            await asyncio.sleep(0.2)
            await proxy.start()
            await publish_many(publisher, 2)
            seen += await take(sub, 7)

            assert [e.seq for e in seen] == list(range(1, 11))
            assert [e.data["n"] for e in seen] == [0, 1, 2, 0, 1, 2, 3, 4, 0, 1]
            assert client.connects == 2
            await publish_many(publisher, 1)
            assert [e.seq for e in await take(sub, 1)] == [11]
    finally:
        await proxy.close()


async def test_a_position_saved_by_an_earlier_run_continues_without_a_gap(
    server: InProcessServer,
) -> None:
    async with fast_client(server.url) as client, client.subscribe("business:acme") as sub:
        await publish_many(client, 2)
        await take(sub, 2)
        saved = sub.position
    assert saved is not None and saved.seq == 2
    async with fast_client(server.url) as client:
        await publish_many(client, 2)  # while nobody listened
        async with client.subscribe("business:acme", since=saved) as sub:
            await publish_many(client, 1)
            assert [e.seq for e in await take(sub, 3)] == [3, 4, 5]


async def test_a_position_older_than_the_history_raises_too_old(settings: Settings) -> None:
    server = InProcessServer(with_settings(settings, history_size=3))
    await server.start()
    try:
        async with fast_client(server.url) as client:
            await publish_many(client, 2)
            history = await client.history("business:acme")
            await publish_many(client, 8)
            stale = Position(1, history.position.epoch)
            async with client.subscribe("business:acme", since=stale) as sub:
                with pytest.raises(NotRecovered) as gap:
                    await take(sub, 1)
                assert gap.value.reason == Reason.TOO_OLD
                assert gap.value.position == Position(10, history.position.epoch)
                await publish_many(client, 1)
                assert [e.seq for e in await take(sub, 1)] == [11]
    finally:
        await server.stop()


async def test_since_a_seq_reads_the_history_in_pages_then_goes_live(
    server: InProcessServer,
) -> None:
    async with fast_client(server.url) as client:
        await publish_many(client, 7)
        async with client.subscribe("business:acme", since=2, history_limit=2) as sub:
            await publish_many(client, 1)
            events = await take(sub, 6)
        assert [e.seq for e in events] == [3, 4, 5, 6, 7, 8]
        async with client.subscribe("business:acme", last=3) as sub:
            assert [e.seq for e in await take(sub, 3)] == [6, 7, 8]


async def test_since_a_seq_that_left_the_history_says_so_then_yields_what_is_held(
    settings: Settings,
) -> None:
    server = InProcessServer(with_settings(settings, history_size=3))
    await server.start()
    try:
        async with fast_client(server.url) as client:
            await publish_many(client, 6)
            async with client.subscribe("business:acme", since=1) as sub:
                with pytest.raises(NotRecovered) as gap:
                    await take(sub, 1)
                assert gap.value.reason == Reason.TOO_OLD
                assert gap.value.position.seq == 3  # events 2 and 3 are gone
                assert [e.seq for e in await take(sub, 3)] == [4, 5, 6]
            async with client.subscribe("business:acme", since=99) as sub:
                with pytest.raises(NotRecovered) as ahead:
                    await take(sub, 1)
                assert ahead.value.reason == Reason.EPOCH_CHANGED
                assert ahead.value.position.seq == 6
    finally:
        await server.stop()


async def test_token_mode_refusals_are_typed(settings: Settings) -> None:
    secret = "s" * 48
    server = InProcessServer(with_settings(settings, secret=secret))
    await server.start()
    try:
        token = issue_token(secret, "u1", ["acme"], 3600)
        async with fast_client(server.url, token) as client:
            async with client.subscribe("business:acme"):
                pass
            with pytest.raises(SubscriptionError) as forbidden:
                async with client.subscribe("business:other"):
                    pass
            assert forbidden.value.code == "forbidden"
            assert forbidden.value.channel == "business:other"
            # the connection is still good
            async with client.subscribe("user:u1") as sub:
                assert sub.position is not None
            history = await client.history("business:acme")
            assert history.channel == "business:acme"
        async with fast_client(server.url, "not-a-token") as client:
            with pytest.raises(HandshakeError) as refused:
                async with client.subscribe("business:acme"):
                    pass
            assert refused.value.status == 401 and refused.value.field == "token"
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("detector", "options", "logged"),
    [
        ("ping", {"ping_interval": 0.3, "ping_timeout": 0.6, "heartbeat": None}, "no pong"),
        ("heartbeat", {"ping_interval": 60.0, "heartbeat": 0.4}, "No PONG"),
    ],
)
async def test_a_server_that_stops_answering_is_dropped_and_recovered_from(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    detector: str,
    options: dict[str, Any],
    logged: str,
) -> None:
    """SIGSTOP freezes a real livewatch: its TCP connections stay up, nothing answers."""
    caplog.set_level("INFO", logger="livewatch_client")
    process = ServerProcess(tmp_path)
    await process.start()
    try:
        async with (
            fast_client(process.url, connect_timeout=1.0, **options) as client,
            client.subscribe("business:acme") as sub,
        ):
            await publish_many(client, 1)
            await take(sub, 1)
            os.kill(process.pid, signal.SIGSTOP)
            try:
                await eventually(
                    lambda: any(logged in r.getMessage() for r in caplog.records), within=10
                )
            finally:
                os.kill(process.pid, signal.SIGCONT)
            await publish_many(client, 2)
            assert [e.seq for e in await take(sub, 2, within=20)] == [2, 3]
            assert client.connects >= 2, detector
    finally:
        await process.stop()


def test_backoff_is_full_jitter_within_its_bounds() -> None:
    backoff = Backoff(0.1, 5.0)
    assert [backoff.ceiling(n) for n in range(8)] == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    )
    assert backoff.ceiling(100_000) == 5.0, "no overflow however many attempts"
    assert backoff.delay(3, rng=lambda: 0.0) == 0.0
    assert backoff.delay(3, rng=lambda: 1.0) == pytest.approx(0.8)
    for attempt in range(12):
        delays = [backoff.delay(attempt) for _ in range(200)]
        assert all(0 <= d <= backoff.ceiling(attempt) for d in delays)
        assert len(set(delays)) > 100, "jittered"
    for bad in ((0, 1), (2, 1), (-1, 1), (0.1, float("inf"))):
        with pytest.raises(ValueError):
            Backoff(*bad)
    with pytest.raises(ValueError):
        backoff.ceiling(-1)
    assert Client("http://x", min_delay=0.5, max_delay=2).backoff == Backoff(0.5, 2)


async def test_against_a_scripted_server_duplicates_are_dropped_and_a_seq_jump_is_raised(
    aiohttp_server: Any,
) -> None:
    """A server that breaks the contract: the client still yields each seq once and reports
    the jump; and a rate-limited subscribe (an error naming no channel) is sent again."""
    received: list[dict[str, Any]] = []

    async def scripted(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "connected", "epoch": "boot", "channels": []})
        async for msg in ws:
            frame = json.loads(msg.data)
            received.append(frame)
            if frame["type"] == "ping":
                await ws.send_json({"type": "pong"})
            elif frame["type"] == "subscribe" and len(received) == 1:
                await ws.send_json({"type": "error", "code": "rate_limited", "ref": None})
            elif frame["type"] == "subscribe":
                await ws.send_json(
                    {"type": "subscribed", "channel": "jobs", "seq": 2, "epoch": "e1"}
                )
                for seq in (3, 3, 4, 2, 6):
                    await ws.send_json(
                        {
                            "type": "event",
                            "channel": "jobs",
                            "seq": seq,
                            "event": "job.done",
                            "data": {"seq": seq},
                            "timestamp": "2026-01-01T00:00:00.000Z",
                        }
                    )
        return ws

    app = web.Application()
    app.router.add_get("/api/monitoring/ws", scripted)
    server = await aiohttp_server(app)
    url = str(server.make_url("")).rstrip("/")
    async with fast_client(url) as client, client.subscribe("jobs") as sub:
        assert [e.seq for e in await take(sub, 2)] == [3, 4]
        with pytest.raises(NotRecovered) as gap:
            await take(sub, 1)
        assert gap.value.reason == Reason.SEQ_GAP
        assert gap.value.position == Position(5, "e1")
        assert [e.seq for e in await take(sub, 1)] == [6]
        assert sub.duplicates == 2
    assert [f["type"] for f in received[:2]] == ["subscribe", "subscribe"]
    assert received[0] == received[1] == {"type": "subscribe", "channel": "jobs"}


async def test_a_subscription_waits_for_a_server_that_is_not_up_yet(settings: Settings) -> None:
    server = InProcessServer(settings)
    async with fast_client(server.url, attempts=2) as client:
        entering = asyncio.create_task(client.subscribe("business:acme", since=0).__aenter__())
        await asyncio.sleep(0.5)  # history reads and connects fail meanwhile
        assert not entering.done()
        await server.start()
        try:
            sub = await asyncio.wait_for(entering, 10)
            await client.publish("task.started", {}, business_id="acme")
            assert [e.seq for e in await take(sub, 1)] == [1]
            await sub.__aexit__(None, None, None)
        finally:
            await server.stop()


async def test_a_failing_handshake_is_retried_and_the_token_stays_out_of_the_log(
    aiohttp_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="livewatch_client")
    calls = 0

    async def flaky(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls <= 2:
            return web.Response(status=502, text="bad gateway")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"type": "connected", "epoch": "boot", "channels": []})
        async for msg in ws:
            frame = json.loads(msg.data)
            if frame["type"] == "subscribe":
                await ws.send_json(
                    {"type": "subscribed", "channel": "jobs", "seq": 0, "epoch": "e"}
                )
        return ws

    app = web.Application()
    app.router.add_get("/api/monitoring/ws", flaky)
    server = await aiohttp_server(app)
    token = "tok-3f9a1c-do-not-log"
    async with (
        fast_client(str(server.make_url("")), token) as client,
        client.subscribe("jobs") as sub,
    ):
        assert sub.position == Position(0, "e")
    assert calls == 3
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTP 502" in logged
    assert token not in logged
