"""Run in a process of its own by tests/test_channel_memory.py: publish to many one-shot
channels, wait past the history TTL, and print the process's RSS before, at the peak and
after, as JSON. A separate process, so the test runner's own memory does not blur it."""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

import psutil
from aiohttp.test_utils import TestServer

from app.server import create_app
from app.settings import Settings
from app.web import keys

TTL = 1.0


async def publish_one_shot(app_channels: int, prefix: str, server: TestServer) -> None:
    broadcaster = server.app[keys.BROADCASTER]
    for n in range(app_channels):
        await broadcaster.emit("task.started", {"n": n}, channel=f"{prefix}:{n}")


async def main(channels: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            database_path=Path(tmp) / "db.sqlite3",
            collector_interval=3600,
            health_interval=3600,
            history_ttl=TTL,
        )
        server = TestServer(create_app(settings))
        await server.start_server()
        rss = psutil.Process().memory_info
        # The baseline is a process that has run normally: one-shot channels come and go.
        await publish_one_shot(channels // 10, "warm", server)
        await asyncio.sleep(TTL * 2.5)
        base = rss().rss
        await publish_one_shot(channels, "oneshot", server)
        peak = rss().rss
        await asyncio.sleep(TTL * 2.5)
        after = rss().rss
        await server.close()
    print(json.dumps({"base": base, "peak": peak, "after": after}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
