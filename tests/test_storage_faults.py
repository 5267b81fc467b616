"""An alert is never lost to a storage fault, with the real faults on a real process: the
SQLite file made immutable (chattr +i), its folder removed, its filesystem full.

In each case the alert still reaches the page at once, the database health check and
/readyz say what is wrong within a health interval, the write is made once the store
works again, and the process shuts down cleanly (no SIGBUS).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.conftest import free_port
from tests.test_cli import ROOT, wait_until_live

HEALTH_INTERVAL = "0.5"


async def run(*command: str, check: bool = True) -> int:
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    code = await proc.wait()
    assert code == 0 or not check, f"{command} exited with {code}"
    return code


def need_root_tool(tool: str) -> str:
    path = shutil.which(tool)
    reason = None
    if os.geteuid() != 0:
        reason = "storage faults are made as root (chattr, mount)"
    elif path is None:
        reason = f"{tool} is not installed"
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true, so the storage fault tests must run: {reason}")
        pytest.skip(reason)
    assert path is not None
    return path


@dataclass
class Node:
    """A livewatch process (tests/embedded_server.py: it can put a sample through the alert
    rules), with its database under `folder`."""

    folder: Path
    port: int
    proc: asyncio.subprocess.Process | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.folder / "livewatch.sqlite3"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.embedded_server", "--port", str(self.port)),
            *("--database-path", str(self.database), "--health-interval", HEALTH_INTERVAL),
            *("--collector-interval", "3600"),
            cwd=ROOT,
            env={k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with aiohttp.ClientSession() as session:
            await wait_until_live(session, self.base)

    async def stop(self) -> int:
        proc, self.proc = self.proc, None
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(proc.wait(), 20)

    async def get(self, path: str) -> tuple[int, Any]:
        async with aiohttp.ClientSession() as session, session.get(self.base + path) as answer:
            if answer.content_type == "application/json":
                return answer.status, await answer.json()
            return answer.status, await answer.text()

    async def fire_cpu_alert(self) -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(self.base + "/_test/sample", json={"cpu_percent": 97.0}) as answer,
        ):
            assert answer.status == 202

    async def until(self, path: str, holds: Any, within: float = 10.0) -> Any:
        async with asyncio.timeout(within):
            while True:
                status, body = await self.get(path)
                if holds(status, body):
                    return body
                await asyncio.sleep(0.1)


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    folder = tmp_path / "state"
    running = Node(folder, free_port())
    await running.start()
    yield running
    if running.proc is not None:
        await running.stop()


async def alert_announced_while_the_store_is_broken(node: Node) -> None:
    """The alert reaches a subscriber; the store says what is wrong; the failure counts."""
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(node.base + "/api/monitoring/ws")
        assert (await ws.receive_json())["type"] == "connected"
        await node.fire_cpu_alert()
        async with asyncio.timeout(5):
            while (frame := await ws.receive_json())["type"] != "event":
                pass
        assert (frame["event"], frame["data"]["rule"]) == ("system.alert", "cpu")
        await ws.close()
    health = await node.until(
        "/api/monitoring/health",
        lambda status, body: body["checks"]["database"]["status"] == "unhealthy",
        within=float(HEALTH_INTERVAL) * 3,
    )
    assert health["status"] == "unhealthy"


async def stored(node: Node) -> list[dict[str, Any]]:
    body = await node.until(
        "/api/monitoring/alerts",
        lambda status, body: status == 200 and any(a["rule"] == "cpu" for a in body["alerts"]),
    )
    alerts: list[dict[str, Any]] = body["alerts"]
    return alerts


async def write_failures(node: Node) -> float:
    _, text = await node.get("/metrics")
    line = next(x for x in text.splitlines() if x.startswith("livewatch_store_write_failures"))
    return float(line.split()[-1])


async def test_an_immutable_database_file(node: Node) -> None:
    chattr = need_root_tool("chattr")
    await run(chattr, "+i", str(node.database))
    try:
        await alert_announced_while_the_store_is_broken(node)
        status, ready = await node.get("/readyz")
        assert status == 503 and "database" in ready["reason"]
        assert await write_failures(node) >= 1
    finally:
        await run(chattr, "-i", str(node.database))
    assert [a["rule"] for a in await stored(node)] == ["cpu"], "written once writable again"
    await node.until("/readyz", lambda status, body: status == 200)
    assert await node.stop() == 0, "a clean shutdown, no SIGBUS"
    await node.start()
    assert [a["rule"] for a in await stored(node)] == ["cpu"], "and it survived the restart"


async def test_the_database_folder_removed(node: Node) -> None:
    shutil.rmtree(node.folder)
    await alert_announced_while_the_store_is_broken(node)
    assert [a["rule"] for a in await stored(node)] == ["cpu"], "kept in a new file"
    await node.until(
        "/api/monitoring/health",
        lambda status, body: body["checks"]["database"]["status"] == "healthy",
    )
    assert await node.stop() == 0
    await node.start()
    assert [a["rule"] for a in await stored(node)] == ["cpu"]


async def test_a_full_filesystem(tmp_path: Path) -> None:
    mount = need_root_tool("mount")
    small = tmp_path / "small"
    small.mkdir()
    await run(mount, "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small))
    node = Node(small / "state", free_port())
    try:
        await node.start()
        filler = small / "filler"
        await run("dd", "if=/dev/zero", f"of={filler}", "bs=4k", check=False)
        await alert_announced_while_the_store_is_broken(node)
        filler.unlink()
        assert [a["rule"] for a in await stored(node)] == ["cpu"], "written once there is room"
        assert await node.stop() == 0, "a clean shutdown, no SIGBUS"
    finally:
        if node.proc is not None:
            node.proc.kill()
            await node.proc.wait()
        await run("umount", str(small), check=False)
