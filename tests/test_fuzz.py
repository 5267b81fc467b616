"""Fuzzing the protocol: 10,000 malformed or random frames and publish bodies at a live server.

Every bad frame must get an error frame or a defined close code, every bad body a 400,
no handler may raise, and a well-behaved client on the same server keeps receiving every
published event with no gap in its seqs: a refused event never takes a seq.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.server import create_app
from app.settings import Settings
from app.web import keys
from tests.conftest import free_port
from tests.rawws import RawWebSocket

TEXT, BINARY, CLOSE, PING = 0x1, 0x2, 0x8, 0x9
DEFINED_CLOSE_CODES = {1002, 1003, 1007, 1008, 1009}
REPLIES = {"error", "pong", "subscribed", "unsubscribed"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
message_types = (
    st.sampled_from(["ping", "subscribe", "unsubscribe", "publish", "", "PING", "event"])
    | st.text(max_size=12)
    | json_values
)
objects = st.fixed_dictionaries(
    {"type": message_types},
    optional={
        "channel": st.sampled_from(["global", "system", "user:x", "a" * 300, "bad channel"])
        | st.text(max_size=40)
        | json_values,
        "data": json_values,
    },
)
text_payloads = st.one_of(
    objects.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=200),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 3000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(100, 6000).map(lambda digits: '{"type": "ping", "n": ' + "9" * digits + "}"),
    st.just('{"type": "ping", "n": 1e999}'),
    # Parses, but cannot be sent on: lone surrogates, NaN and infinities, deep nesting.
    st.sampled_from(['{"type": "\\ud800"}', '{"type": "ping", "x": "a\\udfffb"}']),
    st.sampled_from(["NaN", "Infinity", "-Infinity"]).map(
        lambda constant: '{"type": "subscribe", "channel": "global", "n": ' + constant + "}"
    ),
    st.integers(60, 300).map(
        lambda depth: '{"type": "ping", "x": ' + "[" * depth + "]" * depth + "}"
    ),
)
# Publish bodies whose data is fine, or parses but cannot be sent on.
unsendable = st.one_of(
    st.sampled_from(['"\\ud800"', '"x\\udc00y"', "NaN", "Infinity", "-Infinity", "1e999"]),
    st.integers(60, 300).map(lambda depth: "[" * depth + "]" * depth),
)
publish_bodies = st.one_of(
    json_values.map(json.dumps), unsendable, st.lists(unsendable, min_size=1).map(",".join)
).map(
    lambda value: '{"event": "task.started", "business_id": "fuzz", "data": {"v": ' + value + "}}"
)
frames = st.one_of(
    text_payloads.map(lambda text: (TEXT, text.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=300).map(lambda raw: (TEXT, raw)),
    st.binary(max_size=300).map(lambda raw: (BINARY, raw)),
)


class ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class FuzzBench:
    loop: asyncio.AbstractEventLoop
    runner: web.AppRunner
    port: int
    listener: aiohttp.ClientWebSocketResponse
    session: aiohttp.ClientSession
    fuzzer: RawWebSocket | None = None
    published: int = 0
    frames_sent: int = 0
    bodies_sent: int = 0
    bodies_accepted: int = 0
    closes: dict[int, int] = field(default_factory=dict)

    async def fuzzer_socket(self) -> RawWebSocket:
        if self.fuzzer is None:
            self.fuzzer = await RawWebSocket.connect("127.0.0.1", self.port, "/api/monitoring/ws")
            _, payload = await self.fuzzer.read_frame()
            assert json.loads(payload)["type"] == "connected"
        return self.fuzzer

    async def send_one(self, opcode: int, payload: bytes) -> None:
        fuzzer = await self.fuzzer_socket()
        await fuzzer.send_frame(opcode, payload)
        await fuzzer.send_frame(TEXT, b'{"type": "ping"}')  # marks the end of the answer
        self.frames_sent += 1
        replies = await self.replies(fuzzer, 2)
        if replies is None:
            return
        answer, marker = replies
        assert answer["type"] in REPLIES, f"{payload[:80]!r} got {answer}"
        if answer["type"] == "error":
            assert isinstance(answer["message"], str) and answer["message"]
        assert marker["type"] == "pong"

    async def replies(self, fuzzer: RawWebSocket, count: int) -> list[dict[str, Any]] | None:
        """The next count non-event frames; None if the server closed the socket with a
        defined close code, in which case the next example reconnects."""
        replies: list[dict[str, Any]] = []
        async with asyncio.timeout(5):
            while len(replies) < count:
                opcode, payload = await fuzzer.read_frame()
                if opcode == PING:
                    continue
                if opcode == CLOSE:
                    (code,) = struct.unpack("!H", payload[:2])
                    assert code in DEFINED_CLOSE_CODES, code
                    self.closes[code] = self.closes.get(code, 0) + 1
                    fuzzer.close()
                    self.fuzzer = None
                    return None
                frame = json.loads(payload)
                if frame["type"] != "event":
                    replies.append(frame)
        return replies

    async def publish_and_check_listener(self, body: str | None) -> None:
        expected = 1
        if body is not None:
            answer = await self.session.post(
                f"http://127.0.0.1:{self.port}/api/events",
                data=body,
                headers={"Content-Type": "application/json"},
            )
            assert answer.status in (202, 400), f"{body[:80]!r} got {answer.status}"
            assert answer.content_type == "application/json"
            expected += answer.status == 202
            self.bodies_sent += 1
            self.bodies_accepted += answer.status == 202
        broadcaster = self.runner.app[keys.BROADCASTER]
        await broadcaster.emit("task.started", {"n": self.published}, business_id="fuzz")
        for _ in range(expected):
            self.published += 1
            while True:
                frame = await self.listener.receive_json(timeout=5)
                if frame["type"] == "event" and frame["channel"] == "business:fuzz":
                    assert frame["seq"] == self.published, "the listener missed an event"
                    break


@pytest.fixture
def fuzz_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzBench]:
    loop = asyncio.new_event_loop()
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    config = Settings(
        database_path=Path(tmp_path_factory.mktemp("fuzz")) / "db.sqlite3",
        collector_interval=3600,
        health_interval=3600,
        rate_limit=1e9,
        rate_burst=10**9,
        max_subscriptions=10**6,
    )

    async def start() -> FuzzBench:
        runner = web.AppRunner(create_app(config))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        session = aiohttp.ClientSession()
        listener = await session.ws_connect(
            f"http://127.0.0.1:{port}/api/monitoring/ws?business_id=fuzz"
        )
        assert (await listener.receive_json())["type"] == "connected"
        return FuzzBench(loop, runner, port, listener, session)

    fuzz = loop.run_until_complete(start())
    yield fuzz

    async def stop() -> None:
        if fuzz.fuzzer is not None:
            fuzz.fuzzer.close()
        await fuzz.listener.close()
        await fuzz.session.close()
        await fuzz.runner.cleanup()

    loop.run_until_complete(stop())
    loop.close()
    logging.getLogger().removeHandler(errors)
    assert [r.getMessage() for r in errors.records] == [], "a handler raised"


def test_random_frames_get_errors_or_defined_closes_and_the_listener_gets_everything(
    fuzz_bench: FuzzBench,
) -> None:
    @settings(
        max_examples=10_000,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        database=None,
    )
    # About one example in four also publishes a body over HTTP: enough of them, in a run
    # that stays short.
    @given(frame=frames, body=st.one_of(st.none(), st.none(), st.none(), publish_bodies))
    def one_frame(frame: tuple[int, bytes], body: str | None) -> None:
        opcode, payload = frame
        fuzz_bench.loop.run_until_complete(fuzz_bench.send_one(opcode, payload))
        fuzz_bench.loop.run_until_complete(fuzz_bench.publish_and_check_listener(body))

    one_frame()
    assert fuzz_bench.frames_sent >= 10_000
    assert fuzz_bench.published == fuzz_bench.frames_sent + fuzz_bench.bodies_accepted
    assert fuzz_bench.bodies_sent > 1000
    assert 0 < fuzz_bench.bodies_accepted < fuzz_bench.bodies_sent, "both kinds of body ran"
    assert fuzz_bench.closes.get(1007, 0) > 0, "invalid UTF-8 text frames were among the inputs"
