"""Shared fixtures: every test drives the real create_app over a real socket."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from app.server import create_app
from app.settings import Settings
from app.web import keys

if TYPE_CHECKING:
    from tests.cluster import Lab

ClientFactory = Callable[..., Awaitable[TestClient[web.Request, web.Application]]]
LivewatchClient = TestClient[web.Request, web.Application]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Quiet settings: the periodic loops run once at start-up, then wait an hour."""
    return Settings(
        database_path=tmp_path / "livewatch.sqlite3",
        collector_interval=3600,
        health_interval=3600,
        health_timeout=1.0,
        node="test-node",
    )


AppFactory = Callable[..., Awaitable[LivewatchClient]]


@pytest.fixture
def make_client(aiohttp_client: ClientFactory, settings: Settings) -> AppFactory:
    """Start livewatch and wait for its start-up health round. The collector's first real
    sample comes one interval (an hour here) after start, so injected samples do not race it."""

    async def make(**changes: Any) -> LivewatchClient:
        """Settings changed as given; with `port`, the server really listens on that port."""
        server_kwargs = {"port": changes["port"]} if "port" in changes else {}
        app = create_app(with_settings(settings, **changes))
        client = await aiohttp_client(app, server_kwargs=server_kwargs)
        await eventually(lambda: client.app[keys.HEALTH_WATCH].last is not None)
        return client

    return make


@pytest.fixture
async def client(make_client: AppFactory) -> LivewatchClient:
    return await make_client()


async def eventually(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until condition() holds; fail the test if it does not within the limit."""
    deadline = asyncio.get_running_loop().time() + within
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.01)


def with_settings(settings: Settings, **changes: Any) -> Settings:
    return dataclasses.replace(settings, **changes)


async def next_frame(ws: aiohttp.ClientWebSocketResponse, wait: float = 2.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=wait)
    assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type}: {msg.data}"
    frame = json.loads(msg.data)
    assert isinstance(frame, dict)
    return frame


async def next_of(
    ws: aiohttp.ClientWebSocketResponse, frame_type: str, wait: float = 2.0
) -> dict[str, Any]:
    """The next frame of one type, skipping others (collector samples, health)."""
    async with asyncio.timeout(wait):
        while True:
            frame = await next_frame(ws, wait)
            if frame["type"] == frame_type:
                return frame


async def connect(
    client: LivewatchClient, query: str = "", **kwargs: Any
) -> aiohttp.ClientWebSocketResponse:
    ws: aiohttp.ClientWebSocketResponse = await client.ws_connect(
        "/api/monitoring/ws" + query, **kwargs
    )
    welcome = await next_frame(ws)
    assert welcome["type"] == "connected"
    return ws


async def subscribe(ws: aiohttp.ClientWebSocketResponse, channel: str) -> int:
    await ws.send_json({"type": "subscribe", "channel": channel})
    frame = await next_of(ws, "subscribed")
    assert frame["channel"] == channel
    seq = frame["seq"]
    assert isinstance(seq, int)
    return seq


async def publish(client: LivewatchClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/events", json=body)
    assert response.status == 202, await response.text()
    result = await response.json()
    assert isinstance(result, dict)
    return result


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    """Real nodes, Redis servers and HAProxy for one test (tests/cluster.py); every process
    stopped and every key deleted when it ends."""
    from tests.cluster import Lab

    async with Lab(tmp_path) as started:
        yield started


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
