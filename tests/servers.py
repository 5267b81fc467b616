"""livewatch servers the client tests can stop, restart and freeze, and a TCP proxy they
can cut: all on real loopback sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
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


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop a TCP connection with a RST, as a dead NAT entry or a crashed peer does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class TcpProxy:
    """Forwards a loopback port to a target port. `cut()` resets every open connection,
    `refuse()` stops accepting, and `lose_answers` makes the next connections reset the
    client the moment the server answers, after the request has reached the server."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.lose_answers = 0
        self.answers_lost = 0
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._open: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def refuse(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def cut(self) -> int:
        pairs = list(self._open)
        for client, upstream in pairs:
            reset(client)
            reset(upstream)
        return len(pairs)

    async def close(self) -> None:
        await self.refuse()
        self.cut()  # every forwarding task ends once its sockets are gone
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._forward(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            reset(writer)
            return
        pair = (writer, up_writer)
        self._open.add(pair)
        lose = self.lose_answers > 0
        if lose:
            self.lose_answers -= 1
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, None),
                self._pump(up_reader, writer, pair if lose else None),
            )
        finally:
            self._open.discard(pair)
            for end in pair:
                end.transport.abort()

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        lose: tuple[asyncio.StreamWriter, asyncio.StreamWriter] | None,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if lose is not None:
                    self.answers_lost += 1
                    reset(lose[0])
                    reset(lose[1])
                    return
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        writer.transport.abort()
