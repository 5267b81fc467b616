"""Run in a process of its own by tests/test_channel_memory.py: publish to many one-shot
channels, wait past the history TTL, and print the process's memory before, at the peak
and after, as JSON. A separate process, so the test runner's own memory does not blur it.

Memory is resident memory less the resident pages of shared files (libraries and code,
paged in as new code runs): the memory the process holds itself, where a leak shows."""

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
        process = psutil.Process()

        def held() -> int:
            info = process.memory_info()
            return int(info.rss - info.shared)

        # The baseline is a process that has run normally: one-shot channels have come and
        # gone. The first such burst leaves a few MB behind in the allocator (arenas that a
        # handful of live objects keep); every later one reuses them, which is what shows
        # that channel state does not pile up.
        await publish_one_shot(channels, "before", server)
        await asyncio.sleep(TTL * 4)
        base = held()
        await publish_one_shot(channels, "burst", server)
        peak = held()
        # The channels go once their TTL has passed and a sweep has found them: wait for
        # that, a few sweeps at most, however busy the machine is.
        after = peak
        for _ in range(20):
            await asyncio.sleep(TTL / 2)
            after = held()
            if peak - after >= 0.95 * (peak - base):
                break
        await server.close()
    print(json.dumps({"base": base, "peak": peak, "after": after}))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
