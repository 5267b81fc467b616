"""The load generator: receiver worker processes plus HTTP publishers.

The receivers (``bench.receiver``) run in their own processes; the publishers run here,
in the orchestrating process, with aiohttp's client. Every publish carries its wall-clock
time in ``data.t``; client and servers share the host, so receive time minus ``t`` is the
delivery latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from multiprocessing.process import BaseProcess
from typing import Any

import aiohttp
import psutil

from bench import receiver
from bench.receiver import Ready, ReceiverConfig, Recovery, Tally

EVENT = "bench.tick"


@dataclass
class Published:
    first_at: float  # wall time of the first publish
    last_seq: int  # the channel's seq after the last publish
    events: int
    failed: int
    seconds: float


async def _post(session: aiohttp.ClientSession, url: str, channel: str, n: int) -> tuple[int, bool]:
    body = {"event": EVENT, "channel": channel, "data": {"t": time.time(), "n": n}}
    async with session.post(url, json=body) as response:
        if response.status != 202:
            return 0, False
        reply: dict[str, Any] = await response.json()
        return int(reply["channels"][channel]), True


async def publish(
    url: str, channel: str, events: int, publishers: int, rate: float | None = None
) -> Published:
    """POST events: as fast as ``publishers`` concurrent requests allow, or at ``rate``/s."""
    connector = aiohttp.TCPConnector(limit=publishers)
    last_seq = 0
    failed = 0
    started = time.time()
    began = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        if rate is None:
            counter = iter(range(events))

            async def worker() -> None:
                nonlocal last_seq, failed
                for n in counter:
                    seq, ok = await _post(session, url, channel, n)
                    last_seq = max(last_seq, seq)
                    failed += not ok

            await asyncio.gather(*(worker() for _ in range(publishers)))
        else:
            loop = asyncio.get_running_loop()
            tasks: list[asyncio.Task[tuple[int, bool]]] = []
            origin = loop.time()
            for n in range(events):
                delay = origin + n / rate - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(_post(session, url, channel, n)))
            for seq, ok in await asyncio.gather(*tasks):
                last_seq = max(last_seq, seq)
                failed += not ok
    return Published(started, last_seq, events, failed, time.monotonic() - began)


async def publish_steady(url: str, channel: str, rate: float, stop: threading.Event) -> Published:
    """POST events at ``rate``/s until ``stop`` is set; every request is awaited before
    returning, so ``last_seq`` is the channel's seq after the last of them."""
    connector = aiohttp.TCPConnector(limit=0)
    tasks: list[asyncio.Task[tuple[int, bool]]] = []
    started = time.time()
    began = time.monotonic()
    async with aiohttp.ClientSession(connector=connector) as session:
        loop = asyncio.get_running_loop()
        origin = loop.time()
        while not stop.is_set():
            delay = origin + len(tasks) / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(session, url, channel, len(tasks))))
        results = await asyncio.gather(*tasks)
    last_seq = max((seq for seq, _ in results), default=0)
    failed = sum(not ok for _, ok in results)
    return Published(started, last_seq, len(tasks), failed, time.monotonic() - began)


class SteadyPublisher:
    """publish_steady in a thread of its own, so the orchestrator can drive receivers
    meanwhile: ``start()``, then ``stop()`` returns what was published."""

    def __init__(self, url: str, channel: str, rate: float) -> None:
        self._stop = threading.Event()
        self._result: Published | BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(url, channel, rate), name="publisher", daemon=True
        )

    def _run(self, url: str, channel: str, rate: float) -> None:
        try:
            self._result = asyncio.run(publish_steady(url, channel, rate, self._stop))
        except BaseException as exc:  # handed to the caller of stop()
            self._result = exc

    def start(self) -> None:
        self._thread.start()

    def stop(self, within: float = 30.0) -> Published:
        self._stop.set()
        self._thread.join(within)
        result = self._result
        if isinstance(result, BaseException):
            raise RuntimeError("the publisher failed") from result
        if result is None:
            raise TimeoutError(f"the publisher did not stop within {within} s")
        return result


class Receivers:
    """``count`` receiver processes sharing ``clients`` WebSocket clients between them."""

    def __init__(
        self,
        host: str,
        port: int | Sequence[int],
        path: str,
        channel: str,
        clients: int,
        count: int,
        nice: int = 0,
        query: str = "",
    ) -> None:
        """``port``: one server, or several (a cluster's nodes), which the clients are
        spread over in turn."""
        context = multiprocessing.get_context("spawn")
        self.clients = clients
        self.pipes: list[Pipe] = []
        self.procs: list[BaseProcess] = []
        ports = (port,) if isinstance(port, int) else tuple(port)
        count = max(1, min(count, clients))
        for index in range(count):
            share = clients // count + (index < clients % count)
            # each worker starts its turn at another node, so the nodes stay even
            turn = ports[index % len(ports) :] + ports[: index % len(ports)]
            config = ReceiverConfig(
                host, ports[0], path, channel, share, nice, query=query, ports=turn
            )
            ours, theirs = context.Pipe()
            proc = context.Process(
                target=receiver.main, args=(theirs, config), name=f"receiver-{index}", daemon=True
            )
            proc.start()
            theirs.close()
            self.pipes.append(ours)
            self.procs.append(proc)

    def _answers(self, kind: str, within: float) -> list[Any]:
        answers: list[Any] = []
        deadline = time.monotonic() + within
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            while not pipe.poll(0.1):
                if not proc.is_alive():
                    raise RuntimeError(f"{proc.name} died (exit code {proc.exitcode})")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{proc.name} gave no '{kind}' within {within} s")
            message = pipe.recv()
            if message[0] != kind:
                raise RuntimeError(f"{proc.name} answered {message[0]!r}, expected {kind!r}")
            answers.append(message[1])
        return answers

    def ready(self, within: float) -> list[Ready]:
        return self._answers("ready", within)

    def all_connected(self) -> float:
        """Wait until every client is connected and subscribed, and return how long the
        slowest worker took; raise if any client could not connect."""
        readies = self.ready(within=60.0 + self.clients / 100)
        failed = sum(ready.failed for ready in readies)
        if failed:
            errors = [e for ready in readies for e in ready.errors]
            raise RuntimeError(f"{failed} clients could not connect: {errors[:3]}")
        return max(ready.seconds for ready in readies)

    def send(self, *message: object) -> None:
        for pipe in self.pipes:
            pipe.send(message)

    def max_seq(self) -> int:
        self.send("max_seq")
        return max(int(seq) for seq in self._answers("max_seq", 10.0))

    def recovered(self, within: float) -> list[Recovery]:
        """The workers' accounts of a ``("drop_and_recover", at, timeout)`` sent before."""
        return self._answers("recovered", within)

    def finish(self, last_seq: int, timeout: float) -> list[Tally]:
        self.send("finish", last_seq, timeout)
        return self._answers("done", timeout + 30.0)

    def renice(self, nice: int) -> None:
        """Set the workers' niceness (raising it needs no privilege)."""
        for proc in self.procs:
            if proc.pid is not None:
                psutil.Process(proc.pid).nice(nice)

    def close(self) -> None:
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            if proc.is_alive():
                with contextlib.suppress(OSError):
                    pipe.send(("close",))
        for pipe, proc in zip(self.pipes, self.procs, strict=True):
            proc.join(15)
            if proc.is_alive():
                proc.kill()
                proc.join(5)
            pipe.close()
            proc.close()


@dataclass
class ProcessPublished:
    """What one publisher process did: its Published and its own CPU while publishing."""

    published: Published
    cpu_seconds: float
    ended_at: float  # wall time of its last answer


def _publisher_main(pipe: Pipe, url: str, channel: str, events: int, publishers: int) -> None:
    pipe.send(("ready",))
    while pipe.recv()[0] == "go":
        cpu = time.process_time()
        published = asyncio.run(publish(url, channel, events, publishers))
        pipe.send(("done", ProcessPublished(published, time.process_time() - cpu, time.time())))


class PublisherProcesses:
    """One publisher process per URL, each with ``publishers`` concurrent requests and
    ``events`` events. ``start()`` spawns them and waits until each has imported aiohttp;
    each ``go()`` starts them together and returns what each did; ``close()`` ends them. So
    the processes' start-up stays out of a measurement taken around ``go()``."""

    def __init__(self, urls: Sequence[str], channel: str, events: int, publishers: int) -> None:
        self.args = [(url, channel, events, publishers) for url in urls]
        self.pipes: list[Pipe] = []
        self.procs: list[BaseProcess] = []

    def __enter__(self) -> PublisherProcesses:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, within: float = 60.0) -> None:
        context = multiprocessing.get_context("spawn")
        for index, args in enumerate(self.args):
            ours, theirs = context.Pipe()
            proc = context.Process(
                target=_publisher_main,
                args=(theirs, *args),
                name=f"publisher-{index}",
                daemon=True,
            )
            proc.start()
            theirs.close()
            self.pipes.append(ours)
            self.procs.append(proc)
        for pipe in self.pipes:
            if not pipe.poll(within):
                raise TimeoutError(f"a publisher process did not start within {within} s")
            pipe.recv()

    def go(self, within: float = 300.0) -> list[ProcessPublished]:
        for pipe in self.pipes:
            pipe.send(("go",))
        done: list[ProcessPublished] = []
        for index, pipe in enumerate(self.pipes):
            if not pipe.poll(within):
                raise TimeoutError(f"publisher-{index} did not finish within {within} s")
            done.append(pipe.recv()[1])
        return done

    def close(self) -> None:
        for pipe, worker in zip(self.pipes, self.procs, strict=True):
            if worker.is_alive():
                with contextlib.suppress(OSError):
                    pipe.send(("stop",))
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join(5)
            pipe.close()
            worker.close()
        self.pipes, self.procs = [], []
