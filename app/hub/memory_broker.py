"""The embedded broker: one process, streams in a dict, delivery by direct call.

Each channel keeps its last `history_size` events for at most `history_ttl` seconds. A
stream nobody has published to or subscribed to for `history_ttl` is dropped with its seq,
so one-shot channels do not pile up. Reading a channel that has no stream creates none.

Epochs: a stream takes the broker's current epoch when it is created, and every sweep that
drops a stream moves that epoch on. So a channel that never had a stream already has the
epoch its first event will get, and a channel dropped and used again gets a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from app.hub.broker import HistoryPage, Local, Position, Published
from app.memory import give_back_free_memory

SWEEP_COMPACT = 10_000  # streams dropped in one sweep that make it worth compacting


def new_epoch() -> str:
    return secrets.token_urlsafe(6)


@dataclass(slots=True)
class Stream:
    epoch: str
    seq: int = 0
    touched: float = 0.0  # monotonic time of the last publish or read
    # (seq, payload, monotonic time published), oldest first. A list rather than a deque:
    # a deque starts with a 600-byte block, and most channels hold a few events.
    events: list[tuple[int, bytes, float]] = field(default_factory=list)


class MemoryBroker:
    def __init__(self, history_size: int = 1000, history_ttl: float = 600.0) -> None:
        self.history_size = history_size
        self.history_ttl = history_ttl
        self.epoch = new_epoch()
        self._streams: dict[str, Stream] = {}
        self._held: set[str] = set()  # channels with local subscribers
        self._dropped = 0  # streams dropped since the memory was last handed back
        self._local: Local | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self, local: Local) -> None:
        self._local = local
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        self._local = None
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper

    def _stream(self, channel: str, now: float) -> Stream:
        stream = self._streams.get(channel)
        if stream is None:
            stream = self._streams[channel] = Stream(self.epoch)
        stream.touched = now
        return stream

    def _trim(self, stream: Stream, now: float) -> None:
        events = stream.events
        drop = max(0, len(events) - self.history_size)
        oldest = now - self.history_ttl
        while drop < len(events) and events[drop][2] < oldest:
            drop += 1
        if drop:
            del events[:drop]

    async def publish(self, channels: Sequence[str], payload: bytes) -> list[Published]:
        local = self._local
        if local is None:
            raise RuntimeError("broker is not started")
        now = time.monotonic()
        published = []
        for channel in channels:
            stream = self._stream(channel, now)
            stream.seq += 1
            stream.events.append((stream.seq, payload, now))
            self._trim(stream, now)
            recipients = local.deliver(channel, stream.seq, payload)
            published.append(Published(channel, stream.seq, stream.epoch, recipients))
        return published

    async def history(self, channel: str, since: int | None, limit: int) -> HistoryPage:
        stream = self._streams.get(channel)
        if stream is None:
            return HistoryPage(Position(0, self.epoch), [])
        now = time.monotonic()
        stream.touched = now
        self._trim(stream, now)
        position = Position(stream.seq, stream.epoch)
        events = stream.events
        if limit <= 0 or not events:
            return HistoryPage(position, [])
        if since is None:
            start = max(0, len(events) - limit)
        else:
            # seqs in the history are consecutive, so the index of since + 1 is arithmetic
            start = min(len(events), max(0, since + 1 - events[0][0]))
        chosen = events[start : start + limit]
        return HistoryPage(position, [(seq, payload) for seq, payload, _ in chosen])

    async def subscribe(self, channel: str) -> None:
        self._held.add(channel)
        self._stream(channel, time.monotonic())

    async def unsubscribe(self, channel: str) -> None:
        self._held.discard(channel)
        stream = self._streams.get(channel)
        if stream is not None:
            stream.touched = time.monotonic()

    async def ping(self) -> None:
        return None

    def sweep(self, now: float | None = None) -> int:
        """Drop streams idle past the history TTL with no local subscriber; how many went."""
        now = time.monotonic() if now is None else now
        idle = [
            channel
            for channel, stream in self._streams.items()
            if now - stream.touched > self.history_ttl and channel not in self._held
        ]
        for channel in idle:
            del self._streams[channel]
        if idle:
            self.epoch = new_epoch()
            # A dict keeps its table at its largest size, and the C allocator keeps what
            # was freed: after a burst of one-shot channels, hand the memory back.
            self._dropped += len(idle)
            if self._dropped >= SWEEP_COMPACT:
                self._dropped = 0
                self._streams = dict(self._streams)
                gc.collect()  # a burst leaves cycles (tasks, futures) that refcounts miss
            give_back_free_memory()
        return len(idle)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.history_ttl / 10))
            self.sweep()
