"""The servers under test, each started as its own process on a free loopback port."""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import psutil
import redis

from app.settings import Settings, env_name

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
WS_PATH = "/api/monitoring/ws"

ServerKind = Literal["livewatch", "naive"]
SERVER_KINDS: tuple[ServerKind, ...] = ("livewatch", "naive")

# Off in scenarios that do not measure the collector: one psutil sample an hour.
QUIET_COLLECTOR = 3600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


class Running:
    """A process of the run's own, as a context manager: `with` starts it and stops it,
    and a start that fails stops what it had started."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess(Running):
    """``python -m app serve`` or ``python -m bench.naive``, its log in workdir.

    ``settings`` are livewatch settings by name (``{"history_size": "1"}``), passed as their
    ``LIVEWATCH_<NAME>`` variables; the naive server takes none.
    """

    def __init__(
        self,
        kind: ServerKind,
        workdir: Path,
        collector_interval: float | None = None,
        max_outbox_bytes: int | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.workdir = workdir
        self.collector_interval = collector_interval
        self.max_outbox_bytes = max_outbox_bytes
        self.settings = dict(settings or {})
        known = {item.name for item in dataclasses.fields(Settings)}
        unknown = sorted(set(self.settings) - known)
        if unknown:
            raise ValueError(f"no livewatch setting is called {unknown[0]!r}")
        if self.settings and kind != "livewatch":
            raise ValueError(f"the {kind} server takes no livewatch settings")
        self.port = free_port()
        self.log_path = workdir / f"{kind}-{self.port}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None

    def command(self) -> list[str]:
        interval = str(self.collector_interval or QUIET_COLLECTOR)
        if self.kind == "naive":
            cmd = [sys.executable, "-m", "bench.naive", "--host", HOST, "--port", str(self.port)]
            if self.collector_interval:
                cmd += ["--collector-interval", interval]
            return cmd
        cmd = [
            *(sys.executable, "-m", "app", "serve", "--host", HOST, "--port", str(self.port)),
            *("--collector-interval", interval),
            *("--database-path", str(self.workdir / f"livewatch-{self.port}.sqlite3")),
        ]
        if self.max_outbox_bytes is not None:
            cmd += ["--max-outbox-bytes", str(self.max_outbox_bytes)]
        return cmd

    def start(self, ready_within: float = 30.0) -> None:
        self.launch()
        self.wait_ready(ready_within)

    def launch(self) -> None:
        """Start the process; ``wait_ready`` then waits until it answers."""
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
            )
        self._ps = psutil.Process(self._proc.pid)

    def wait_ready(self, ready_within: float = 30.0) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + ready_within
        while not self._answers():
            if self._proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited at start-up:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.kind} did not answer within {ready_within} s")
            time.sleep(0.05)

    def environment(self) -> dict[str, str]:
        # Only this run's settings: LIVEWATCH_* variables of the calling shell stay out.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEWATCH_")}
        env.update({env_name(name): value for name, value in self.settings.items()})
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _answers(self) -> bool:
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as sock:
                request = f"GET /livez HTTP/1.1\r\nHost: {HOST}\r\nConnection: close\r\n\r\n"
                sock.sendall(request.encode())
                return sock.recv(64).startswith(b"HTTP/1.1 200")
        except OSError:
            return False

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def cpu_seconds(self) -> float:
        """User plus system CPU of the server process (all its threads)."""
        assert self._ps is not None
        times = self._ps.cpu_times()
        return float(times.user + times.system)

    def rss_bytes(self) -> int:
        assert self._ps is not None
        return int(self._ps.memory_info().rss)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, within: float = 20.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(within)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class RedisServer(Running):
    """The Redis that the nodes of a multi-node case share.

    Without ``url``, a ``redis-server`` of the run's own, on a free loopback port, with no
    persistence (``--save "" --appendonly no``), stopped at the end: nothing else loads it.
    With ``url``, that Redis is used as it is; each case takes a key prefix of its own
    (``prefix()``) and ``drop(prefix)`` deletes that prefix's keys afterwards.
    """

    def __init__(self, workdir: Path, url: str | None = None) -> None:
        self.workdir = workdir
        self.external = url is not None
        self.port = 0 if url is not None else free_port()
        self.url = url or f"redis://{HOST}:{self.port}/0"
        self._proc: subprocess.Popen[bytes] | None = None
        self._client: redis.Redis | None = None
        self._run = secrets.token_hex(3)
        self._cases = 0

    def start(self, ready_within: float = 10.0) -> None:
        if not self.external:
            binary = shutil.which("redis-server")
            if binary is None:
                raise RuntimeError("redis-server is not installed; pass --redis URL instead")
            log = (self.workdir / f"redis-{self.port}.log").open("wb")
            with log:
                self._proc = subprocess.Popen(
                    [
                        *(binary, "--bind", HOST, "--port", str(self.port)),
                        *("--save", "", "--appendonly", "no", "--dir", str(self.workdir)),
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
        self._client = redis.Redis.from_url(self.url, socket_timeout=5.0)
        deadline = time.monotonic() + ready_within
        while True:
            try:
                self._client.ping()
                return
            except redis.RedisError:
                if self._proc is not None and self._proc.poll() is not None:
                    raise RuntimeError("redis-server exited at start-up") from None
                if time.monotonic() > deadline:
                    self.stop()
                    raise
                time.sleep(0.05)

    @property
    def client(self) -> redis.Redis:
        assert self._client is not None
        return self._client

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def prefix(self) -> str:
        """A key prefix no other case or run uses."""
        self._cases += 1
        return f"lwbench-{os.getpid()}-{self._run}-{self._cases}"

    def cpu_seconds(self) -> float:
        """Redis's own user + system CPU, from INFO cpu (all its threads)."""
        info = self.client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def drop(self, prefix: str) -> int:
        """Delete every key of prefix; how many there were."""
        dropped = 0
        batch: list[bytes] = []
        for key in self.client.scan_iter(match=f"{prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= 500:
                dropped += int(self.client.delete(*batch))
                batch = []
        if batch:
            dropped += int(self.client.delete(*batch))
        return dropped

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
