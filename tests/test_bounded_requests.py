"""Requests and connections are bounded, on a real `livewatch serve` process over raw
sockets: a connection cap with a clear refusal, time limits on request heads and bodies,
JSON for what aiohttp answers itself, and quiet logs when clients misbehave or leave."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from bench import wsproto
from tests.conftest import free_port
from tests.test_cli import ROOT, wait_until_live


@dataclass
class Served:
    port: int
    proc: asyncio.subprocess.Process
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "app", "serve", "--port", str(port)),
            *("--database-path", str(tmp_path / "db.sqlite3")),
            *("--max-connections", "20", "--header-timeout", "1", "--body-timeout", "1"),
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")},
            stdout=out,
            stderr=out,
        )
    try:
        async with aiohttp.ClientSession() as session:
            await wait_until_live(session, f"http://127.0.0.1:{port}")
        yield Served(port, proc, log)
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 20)
    assert proc.returncode == 0


async def raw(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status and JSON body of one HTTP answer."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert b"application/json" in head, head
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    body = await asyncio.wait_for(reader.readexactly(length), 10)
    parsed: dict[str, str] = json.loads(body)
    return int(head.split()[1]), parsed


def reset(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_past_the_connection_cap_a_client_gets_a_503_and_others_are_served(
    served: Served,
) -> None:
    held = [await raw(served.port) for _ in range(20)]
    reader, refused = await raw(served.port)
    status, body = await answer(reader)
    assert status == 503 and "too many connections (20)" in body["error"]
    refused.close()
    for _, writer in held[:5]:
        writer.close()
    await asyncio.sleep(0.3)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{served.port}/livez") as ok,
    ):
        assert ok.status == 200
    for _, writer in held[5:]:
        writer.close()


async def test_a_request_aiohttp_cannot_parse_gets_json(served: Served) -> None:
    reader, writer = await raw(served.port)
    writer.write(b"GET /livez HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n")
    status, body = await answer(reader)
    assert status == 400 and "Invalid header" in body["error"]
    writer.close()


async def test_a_request_head_that_never_ends_is_dropped(served: Served) -> None:
    reader, writer = await raw(served.port)
    writer.write(b"GET /livez HTTP/1.1\r\nHost: localhost\r\n")
    began = time.monotonic()
    assert await asyncio.wait_for(reader.read(), 10) == b""
    assert time.monotonic() - began < 5, "closed after the header timeout, not later"
    writer.close()


async def test_half_a_body_gets_408_after_the_body_timeout(served: Served) -> None:
    reader, writer = await raw(served.port)
    body = b'{"event": "task.started", "data": {}, "channel": "global"}'
    writer.write(
        b"POST /api/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body[:10]
    )
    began = time.monotonic()
    status, answered = await answer(reader)
    assert status == 408 and "within 1 s" in answered["error"]
    assert time.monotonic() - began < 5
    assert await asyncio.wait_for(reader.read(), 5) == b"", "and the connection is closed"
    writer.close()


async def test_clients_leaving_mid_handshake_leave_no_error_in_the_log(served: Served) -> None:
    request = wsproto.upgrade_request("127.0.0.1", served.port, "/api/monitoring/ws")
    for _ in range(100):
        _, writer = await raw(served.port)
        writer.write(request)
        reset(writer)
    for _ in range(100):
        _, writer = await raw(served.port)
        writer.write(b"GARBAGE\r\n\r\n")
        reset(writer)
    await asyncio.sleep(1.0)
    text = served.log_text()
    assert "Traceback" not in text and " ERROR " not in text, text[-2000:]
    assert text.count("bad request from") <= 2, "the same complaint is not written 100 times"
