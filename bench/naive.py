"""The naive reference server: what an aiohttp fan-out looks like without livewatch's engine.

Each event is JSON-encoded once, then sent with ``await ws.send_str(text)`` to one socket
after another: the straightforward aiohttp fan-out, kept as the reference. It speaks the same
subset of wire protocol v1 the load generator uses: ``GET /api/monitoring/ws`` with
``subscribe`` answered by ``subscribed``, ``POST /api/events`` answered by 202
``{"channels": {...}, "recipients": n}``, and with ``--collector-interval`` a
``system.metric`` sample on ``system`` every interval.

Run it with ``python -m bench.naive --port P``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

from app.monitor.host_reading import HostReader
from app.monitor.sample import Sample

Channels = dict[str, set[web.WebSocketResponse]]

CHANNELS = web.AppKey("channels", Channels)
SEQS = web.AppKey("seqs", dict[str, int])
INTERVAL = web.AppKey("interval", float)
READER = web.AppKey("reader", HostReader)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


async def broadcast(app: web.Application, channel: str, event: str, data: Any) -> tuple[int, int]:
    """Encode once, then await each socket in turn; returns (seq, recipients)."""
    seq = app[SEQS].get(channel, 0) + 1
    app[SEQS][channel] = seq
    text = dumps(
        {
            "type": "event",
            "channel": channel,
            "seq": seq,
            "event": event,
            "data": data,
            "timestamp": now_rfc3339(),
        }
    )
    recipients = 0
    for ws in list(app[CHANNELS].get(channel, ())):
        try:
            await ws.send_str(text)
            recipients += 1
        except ConnectionError:
            pass
    return seq, recipients


async def websocket(request: web.Request) -> web.WebSocketResponse:
    channels = request.app[CHANNELS]
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    mine: set[str] = set()
    await ws.send_str(dumps({"type": "connected", "channels": [], "timestamp": now_rfc3339()}))
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            body = json.loads(msg.data)
            if body.get("type") == "subscribe":
                channel = str(body["channel"])
                channels.setdefault(channel, set()).add(ws)
                mine.add(channel)
                seq = request.app[SEQS].get(channel, 0)
                await ws.send_str(dumps({"type": "subscribed", "channel": channel, "seq": seq}))
    finally:
        for channel in mine:
            channels[channel].discard(ws)
    return ws


async def publish(request: web.Request) -> web.Response:
    body = await request.json()
    channel = str(body["channel"])
    seq, recipients = await broadcast(request.app, channel, str(body["event"]), body["data"])
    return web.json_response({"channels": {channel: seq}, "recipients": recipients}, status=202)


async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def sample(app: web.Application) -> dict[str, Any]:
    """The same sample livewatch sends (livewatch's own host reader, on the loop), so both
    servers fan out frames of the same size."""
    reading = app[READER].read()
    active = sum(len(members) for members in app[CHANNELS].values())
    return Sample.of(reading.figures, "naive", active, 0, now_rfc3339()).as_dict()


async def collector(app: web.Application) -> None:
    interval = app[INTERVAL]
    while True:
        tick = asyncio.create_task(asyncio.sleep(interval))
        await broadcast(app, "system", "system.metric", sample(app))
        await tick


async def collector_ctx(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(collector(app)) if app[INTERVAL] > 0 else None
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(collector_interval: float = 0.0) -> web.Application:
    app = web.Application()
    app[CHANNELS] = {}
    app[SEQS] = {}
    app[INTERVAL] = collector_interval
    app[READER] = HostReader("/")
    app.add_routes(
        [
            web.get("/api/monitoring/ws", websocket),
            web.post("/api/events", publish),
            web.get("/livez", livez),
        ]
    )
    app.cleanup_ctx.append(collector_ctx)
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--collector-interval", type=float, default=0.0)
    args = parser.parse_args(argv)
    # Log like livewatch does by default (INFO to stderr, access log included), so both
    # servers pay the same per-request logging cost.
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    app = create_app(args.collector_interval)
    app[READER].prime()
    web.run_app(app, host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
