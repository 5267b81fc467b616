"""What channel history costs in memory and per publish, measured on the memory broker itself.

A child process fills ``app.hub.memory_broker.MemoryBroker`` with N channels x 1000 typical
small events (a ``task.started`` payload as ``POST /api/events`` stores it, with its
timestamp) and reports how much memory that took: Python's own allocations, traced with
tracemalloc, and, in another child without tracemalloc, the growth of its RSS. A third
child times ``publish`` with history at 1000 events and at 1, with no subscriber.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import psutil

from app.hub import protocol
from app.hub.broker import Position
from app.hub.memory_broker import MemoryBroker
from app.timeutil import now_rfc3339

HISTORY_SIZE = 1000  # the default of LIVEWATCH_HISTORY_SIZE


@dataclass
class HistoryMemory:
    channels: int
    events_per_channel: int
    payload_bytes: int  # one stored event's payload, as bytes on the wire
    traced_bytes_per_event: float  # Python allocations (tracemalloc) per stored event
    rss_bytes_per_event: float  # RSS growth per stored event
    kb_per_channel: float  # traced, for a channel holding events_per_channel events
    publish_us: float  # MemoryBroker.publish with history HISTORY_SIZE, no subscriber
    publish_us_history_1: float  # the same with history 1


class NoSubscribers:
    """A node with nobody subscribed: the broker's own cost alone."""

    def deliver(self, channel: str, seq: int, payload: bytes) -> int:
        return 0

    def lost(self, channel: str, position: Position, reason: str) -> None:
        return None

    def audience(self, channel: str) -> int:
        return 0


def typical_payload(n: int) -> bytes:
    return protocol.event_payload(
        "task.started", {"task_id": f"t{n % 1000}", "n": n}, now_rfc3339()
    )


def _fill(channels: int, per_channel: int, traced: bool) -> tuple[int, int]:
    """Bytes the broker grew by holding channels x per_channel events, and a payload's size."""

    async def fill() -> tuple[int, int]:
        broker = MemoryBroker(history_size=per_channel, history_ttl=3600.0)
        await broker.start(NoSubscribers())
        process = psutil.Process()
        gc.collect()
        if traced:
            tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0] if traced else process.memory_info().rss
        size = 0
        for c in range(channels):
            channel = f"business:b{c}"
            for n in range(per_channel):
                payload = typical_payload(n)
                size = len(payload)
                await broker.publish([channel], payload)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0] if traced else process.memory_info().rss
        if traced:
            tracemalloc.stop()
        await broker.stop()
        return after - before, size

    return asyncio.run(fill())


def _publish_us(events: int, history_sizes: tuple[int, ...], repeats: int) -> list[float]:
    """The best of ``repeats`` timings of ``events`` publishes, per history size, in us."""

    async def timed(size: int, payloads: list[bytes]) -> float:
        broker = MemoryBroker(history_size=size, history_ttl=3600.0)
        await broker.start(NoSubscribers())
        for payload in payloads[:size]:  # a full history from the start
            await broker.publish(["business:bench"], payload)
        began = time.perf_counter()
        for payload in payloads:
            await broker.publish(["business:bench"], payload)
        seconds = time.perf_counter() - began
        await broker.stop()
        return seconds / len(payloads) * 1e6

    payloads = [typical_payload(n) for n in range(events)]
    best = [float("inf")] * len(history_sizes)
    for _ in range(repeats):  # interleaved, so a slow moment of the machine hits both alike
        for index, size in enumerate(history_sizes):
            best[index] = min(best[index], asyncio.run(timed(size, payloads)))
    return best


def measure_history_memory(channels: int = 100, per_channel: int = HISTORY_SIZE) -> HistoryMemory:
    context = multiprocessing.get_context("spawn")
    stored = channels * per_channel
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        traced, payload_bytes = pool.submit(_fill, channels, per_channel, True).result()
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        rss, _ = pool.submit(_fill, channels, per_channel, False).result()
    with ProcessPoolExecutor(max_workers=1, mp_context=context, max_tasks_per_child=1) as pool:
        events = max(2000, min(stored, 20_000))
        with_history, history_1 = pool.submit(_publish_us, events, (HISTORY_SIZE, 1), 5).result()
    return HistoryMemory(
        channels=channels,
        events_per_channel=per_channel,
        payload_bytes=payload_bytes,
        traced_bytes_per_event=traced / stored,
        rss_bytes_per_event=rss / stored,
        kb_per_channel=traced / channels / 1024,
        publish_us=with_history,
        publish_us_history_1=history_1,
    )


def summary(memory: HistoryMemory, subscribers: int) -> list[str]:
    extra = memory.publish_us - memory.publish_us_history_1
    return [
        f"history memory: {memory.channels} channels x {memory.events_per_channel:,} events of "
        f"{memory.payload_bytes} payload bytes (task.started): "
        f"{memory.traced_bytes_per_event:.0f} bytes per stored event traced "
        f"({memory.rss_bytes_per_event:.0f} by RSS), "
        f"{memory.kb_per_channel:.0f} KB per channel at {memory.events_per_channel:,} events",
        f"history per publish (memory broker, no subscriber): {memory.publish_us:.2f} us with "
        f"{HISTORY_SIZE:,} events, {memory.publish_us_history_1:.2f} us with 1: "
        f"{extra:+.2f} us per event, {extra / max(1, subscribers) * 1000:+.2f} ns per delivery "
        f"at {subscribers:,} subscribers",
    ]
