"""Real processes for the cluster tests: livewatch nodes, Redis servers, HAProxy.

Each node is `python -m app serve` with the Redis broker, its log in a file under the
test's tmp_path (its tail is in the failure message when it does not come up). Tests on the
shared Redis (127.0.0.1:6379) use a key prefix of their own and delete its keys afterwards;
fault tests start a redis-server of their own on a free port. `Lab` owns all of it and stops
every process and deletes every key when the test ends, whatever happened.

A missing redis-server or haproxy, or no Redis on 6379, skips the test with the reason,
except under CI=true (.ci/run installs and starts them), where it fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
HAPROXY_TEMPLATE = ROOT / "deploy" / "haproxy.cfg"
SHARED_REDIS = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PACKAGES = {"redis-server": "redis-server", "haproxy": "haproxy"}

# Quick failure detection for tests: a quiet pub/sub connection is probed after 1 s and
# dropped if the probe is not answered within 1 s; heartbeats every second.
FAST = {
    "health_timeout": "1",
    "broker_probe_interval": "1",
    "cluster_heartbeat": "1",
    "collector_interval": "5",
    "health_interval": "5",
    "shutdown_timeout": "2",
}


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def need(tool: str) -> str:
    path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/sbin:/usr/local/sbin")
    if path is None:
        skip_or_fail(f"{tool} is not installed (Debian package {PACKAGES.get(tool, tool)})")
        raise AssertionError("unreachable")
    return path


def new_prefix() -> str:
    return f"lwtest-{secrets.token_hex(4)}"


async def delete_keys(url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(url, socket_timeout=5)
    try:
        batch: list[bytes] = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await client.delete(*batch)
                batch = []
        if batch:
            await client.delete(*batch)
    finally:
        await client.aclose()


def render_haproxy(template: str, port: int, stats_port: int, nodes: list[tuple[str, int]]) -> str:
    """deploy/haproxy.cfg filled in as deploy/run-cluster does it."""
    servers = "\n".join(f"    server {name} 127.0.0.1:{p} check" for name, p in nodes)
    return (
        template.replace("    @SERVERS@", servers)
        .replace("@STATS_PORT@", str(stats_port))
        .replace("@PORT@", str(port))
    )


async def command(client: aioredis.Redis, *args: str) -> Any:
    """A Redis command redis-py has no typed method for (DEBUG SLEEP, CLIENT PAUSE WRITE)."""
    return await client.execute_command(*args)  # type: ignore[no-untyped-call]


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


class Process:
    """A child process whose output goes to a log file."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def spawn(self, *argv: str) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                *argv, cwd=ROOT, stdout=out, stderr=asyncio.subprocess.STDOUT
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no goodbye to anyone."""
        if self.running:
            assert self.process is not None
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM, then SIGKILL if it does not end in time."""
        if self.process is None:
            return None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(STOP_TIMEOUT):
                    await self.process.wait()
            except TimeoutError:
                await self.kill()
        return self.process.returncode

    def tail(self) -> str:
        return f"--- {self.name} ({self.log}) ---\n{tail(self.log)}"


class RedisServer(Process):
    """A redis-server of the test's own on a free port: no persistence, DEBUG allowed."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        super().__init__(f"redis-{self.port}", workdir / f"redis-{self.port}.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        await self.spawn(
            need("redis-server"),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--enable-debug-command",
            "local",
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not await self.answers():
            assert self.running, f"redis-server exited\n{self.tail()}"
            assert time.monotonic() < deadline, f"redis-server never answered\n{self.tail()}"
            await asyncio.sleep(0.05)

    async def answers(self) -> bool:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        try:
            writer.write(b"PING\r\n")
            async with asyncio.timeout(1):
                return (await reader.readline()).startswith(b"+PONG")
        except (OSError, TimeoutError):
            return False
        finally:
            writer.close()

    async def restart(self) -> float:
        """kill -9, then a fresh server on the same port with nothing in it; the moment it
        answers again (monotonic)."""
        await self.kill()
        await self.start()
        return time.monotonic()

    def client(self, timeout: float = 10.0) -> aioredis.Redis:
        return aioredis.Redis.from_url(self.url, socket_timeout=timeout)


class Node(Process):
    """One livewatch node: `python -m app serve --broker redis://...`."""

    def __init__(
        self, name: str, workdir: Path, broker: str, prefix: str, flags: dict[str, str]
    ) -> None:
        super().__init__(name, workdir / f"{name}.log")
        self.port = free_port()
        self.workdir = workdir
        self.broker = broker
        self.prefix = prefix
        self.flags = {**FAST, **flags}

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "app",
            "serve",
            "--node",
            self.name,
            "--port",
            str(self.port),
            "--database-path",
            str(self.workdir / f"{self.name}.sqlite3"),
            "--broker",
            self.broker,
            "--redis-prefix",
            self.prefix,
        ]
        for name, value in self.flags.items():
            argv += ["--" + name.replace("_", "-"), value]
        await self.spawn(*argv)

    async def wait_ready(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while await status_of(session, self.base + "/readyz") != 200:
            assert self.running, f"{self.name} exited\n{self.tail()}"
            assert time.monotonic() < deadline, f"{self.name} never got ready\n{self.tail()}"
            await asyncio.sleep(0.1)


class Balancer(Process):
    """HAProxy with deploy/haproxy.cfg in front of the given nodes."""

    def __init__(self, workdir: Path, nodes: list[Node]) -> None:
        self.port = free_port()
        self.stats_port = free_port()
        super().__init__("haproxy", workdir / "haproxy.log")
        self.config = workdir / "haproxy.cfg"
        self.config.write_text(
            render_haproxy(
                HAPROXY_TEMPLATE.read_text(),
                self.port,
                self.stats_port,
                [(node.name, node.port) for node in nodes],
            )
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, session: aiohttp.ClientSession) -> None:
        await self.spawn(need("haproxy"), "-db", "-f", str(self.config))
        deadline = time.monotonic() + START_TIMEOUT
        while await status_of(session, self.base + "/readyz") != 200:
            assert self.running, f"haproxy exited\n{self.tail()}"
            assert time.monotonic() < deadline, f"haproxy never passed a request\n{self.tail()}"
            await asyncio.sleep(0.1)


async def server_states(session: aiohttp.ClientSession, stats_port: int) -> dict[str, str]:
    """Each node's state (UP, DOWN...) and last check result as HAProxy's status page has them."""
    async with session.get(f"http://127.0.0.1:{stats_port}/;csv") as response:
        rows = [line.split(",") for line in (await response.text()).splitlines()]
    header = rows[0]
    status, check = header.index("status"), header.index("check_status")
    return {
        row[1]: f"{row[status]} {row[check]}".strip()
        for row in rows[1:]
        if row[0] == "nodes" and row[1] != "BACKEND"
    }


async def status_of(session: aiohttp.ClientSession, url: str, wait: float = 5.0) -> int | str:
    """The HTTP status of a GET, or the name of the error that stopped it."""
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=wait)) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        return type(exc).__name__


async def get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=10)) as response:
        assert response.status == 200, f"GET {url}: {response.status} {await response.text()}"
        return await response.json()


class Lab:
    """Everything one test starts: processes, Redis keys, an HTTP session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.processes: list[Process] = []
        self.prefixes: list[tuple[str, str]] = []
        self.cleanups: list[Callable[[], Awaitable[None]]] = []
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Lab:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                await cleanup()
        # The balancer and the nodes first, so nothing writes keys while they are deleted.
        for process in reversed(self.processes):
            if not isinstance(process, RedisServer):
                await process.stop()
        for process in self.processes:
            if isinstance(process, RedisServer):
                await process.kill()
        for url, prefix in self.prefixes:
            with contextlib.suppress(Exception):
                await delete_keys(url, prefix)
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    def logs(self) -> str:
        """The tail of every process's log, for failure messages."""
        return "\n".join(process.tail() for process in self.processes)

    async def shared_redis(self) -> tuple[str, str]:
        """The shared Redis and a key prefix of this test's own (deleted at the end)."""
        client = aioredis.Redis.from_url(SHARED_REDIS, socket_timeout=2)
        try:
            await client.ping()
        except (OSError, aioredis.RedisError) as exc:
            skip_or_fail(f"no Redis on 127.0.0.1:6379 ({exc})")
        finally:
            await client.aclose()
        prefix = new_prefix()
        self.prefixes.append((SHARED_REDIS, prefix))
        return SHARED_REDIS, prefix

    async def redis_server(self) -> RedisServer:
        server = RedisServer(self.workdir)
        self.processes.append(server)
        await server.start()
        return server

    async def nodes(self, count: int, broker: str, prefix: str, **flags: str) -> list[Node]:
        """`count` nodes, started together, named by letters: a, b, c, then d..."""
        first = sum(isinstance(process, Node) for process in self.processes)
        started = [
            Node(chr(ord("a") + first + n), self.workdir, broker, prefix, flags)
            for n in range(count)
        ]
        self.processes += started
        for node in started:
            await node.start()
        for node in started:
            await node.wait_ready(self.session)
        return started

    async def balancer(self, nodes: list[Node]) -> Balancer:
        balancer = Balancer(self.workdir, nodes)
        self.processes.append(balancer)
        await balancer.start(self.session)
        return balancer


# --- publishing and watching -----------------------------------------------------------------


@dataclass
class Answer:
    sent: float  # monotonic
    answered: float
    status: int | str  # the HTTP status, or the name of the error that stopped the request
    body: Any = None
    content_type: str = ""


@dataclass
class Publisher:
    """Publishes numbered events one after another, each under its own Idempotency-Key, and
    repeats a failed one with the same key until it is answered 202: the publisher that,
    with subscribers recovering with `since`, gets every event delivered exactly once."""

    session: aiohttp.ClientSession
    base: str | Callable[[], str]
    body: Callable[[int], dict[str, Any]]
    pause: float = 0.005
    retry_pause: float = 0.05
    acked: dict[int, dict[str, int]] = field(default_factory=dict)  # n -> channel -> seq
    acked_at: dict[int, float] = field(default_factory=dict)  # n -> when answered 202
    answers: list[Answer] = field(default_factory=list)
    stopping: bool = False
    task: asyncio.Task[None] | None = None
    key_prefix: str = field(default_factory=lambda: secrets.token_hex(6))

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop after the event being published now is acknowledged."""
        self.stopping = True
        assert self.task is not None
        try:
            async with asyncio.timeout(30):
                await self.task
        except TimeoutError:
            last = self.answers[-1] if self.answers else None
            raise AssertionError(
                f"an event was never acknowledged in 30 s: {self.statuses()}; the last answer "
                f"{last.status if last else None}: {last.body if last else None}"
            ) from None

    async def _run(self) -> None:
        n = 0
        while not self.stopping:
            await self.publish_one(n)
            n += 1
            await asyncio.sleep(self.pause)

    async def publish_one(self, n: int) -> None:
        key = f"{self.key_prefix}-{n}"
        while True:
            base = self.base if isinstance(self.base, str) else self.base()
            sent = time.monotonic()
            try:
                async with self.session.post(
                    base + "/api/events",
                    json=self.body(n),
                    headers={"Idempotency-Key": key},
                    timeout=aiohttp.ClientTimeout(total=15),
                ) as response:
                    raw = await response.read()
                    answer = Answer(sent, time.monotonic(), response.status, None, "")
                    answer.content_type = response.content_type
                    with contextlib.suppress(ValueError):
                        answer.body = json.loads(raw)
            except (aiohttp.ClientError, TimeoutError) as exc:
                answer = Answer(sent, time.monotonic(), type(exc).__name__)
            self.answers.append(answer)
            if answer.status == 202:
                self.acked[n] = answer.body["channels"]
                self.acked_at[n] = answer.answered
                return
            await asyncio.sleep(self.retry_pause)

    def seqs(self, channel: str) -> list[int]:
        return [channels[channel] for _, channels in sorted(self.acked.items())]

    def statuses(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for answer in self.answers:
            counts[str(answer.status)] = counts.get(str(answer.status), 0) + 1
        return counts


@dataclass
class Reading:
    at: float  # monotonic: when both answers were in
    ready: int | str  # /readyz status
    redis: str  # the redis check's status in /api/monitoring/health


@dataclass
class HealthLog:
    """Polls one node's /readyz and /api/monitoring/health every `every` seconds."""

    session: aiohttp.ClientSession
    node: Node
    every: float = 0.1
    readings: list[Reading] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            ready, redis = await asyncio.gather(
                status_of(self.session, self.node.base + "/readyz"), self.redis_check()
            )
            self.readings.append(Reading(time.monotonic(), ready, redis))
            await asyncio.sleep(max(0.0, self.every - (time.monotonic() - started)))

    async def redis_check(self) -> str:
        try:
            async with self.session.get(
                self.node.base + "/api/monitoring/health", timeout=aiohttp.ClientTimeout(total=5)
            ) as response:
                body = await response.json()
                return str(body["checks"]["redis"]["status"])
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            return type(exc).__name__

    def first(self, after: float, healthy: bool) -> float | None:
        """When, after `after`, both /readyz and the redis check first read (un)healthy."""
        for reading in self.readings:
            if reading.at < after:
                continue
            good = reading.ready == 200 and reading.redis == "healthy"
            bad = reading.ready == 503 and reading.redis == "unhealthy"
            if (healthy and good) or (not healthy and bad):
                return reading.at
        return None

    async def wait(self, after: float, healthy: bool, within: float) -> float:
        deadline = time.monotonic() + within
        while (seen := self.first(after, healthy)) is None:
            assert time.monotonic() < deadline, (
                f"{self.node.name} never read {'healthy' if healthy else 'unhealthy'} "
                f"within {within:g} s: {self.summary(after)}"
            )
            await asyncio.sleep(0.05)
        return seen

    def summary(self, origin: float) -> str:
        """The readings from just before `origin` on, as runs of equal state, each with its
        start relative to `origin`."""
        runs: list[str] = []
        last: tuple[int | str, str] | None = None
        for reading in self.readings:
            state = (reading.ready, reading.redis)
            if reading.at >= origin - 0.3 and state != last:
                runs.append(f"{reading.at - origin:+.2f}s {state[0]}/{state[1]}")
                last = state
        return ", ".join(runs)
