"""livewatch servers the client tests can stop, restart and freeze, and a TCP proxy they
can cut: all on real loopback sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
from aiohttp import web

from app.server import create_app
from app.settings import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


class InProcessServer:
    """create_app on a fixed port. Each start is a new app, so a restart loses every
    channel's history and starts new epochs, as a restarted process does."""

    def __init__(self, settings: Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        runner = web.AppRunner(create_app(self.settings), handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._runner = runner

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


class ServerProcess:
    """`python -m app serve` as a real process on a fixed port."""

    def __init__(self, tmp_path: Path, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.database = tmp_path / "livewatch.sqlite3"
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app",
            "serve",
            "--port",
            str(self.port),
            "--database-path",
            str(self.database),
            "--collector-interval",
            "3600",
            "--health-interval",
            "3600",
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await wait_until_live(self.url)

    async def kill(self) -> None:
        """SIGKILL: the process dies with its sockets and its history."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            os.kill(self.proc.pid, signal.SIGCONT)  # in case a test left it stopped
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                await self.kill()


async def wait_until_live(base: str, within: float = 30.0) -> None:
    async with aiohttp.ClientSession() as session, asyncio.timeout(within):
        while True:
            try:
                async with session.get(base + "/livez") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)


async def subscribers(base: str, channel: str, token: str | None = None) -> int:
    """How many connections of the server at base hold channel (with a secret set, ask
    with a token that may read it)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + "/api/monitoring/connections", headers=headers) as response,
    ):
        stats = await response.json()
    count: int = stats["channels"].get(channel, 0)
    return count
