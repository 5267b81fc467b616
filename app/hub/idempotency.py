"""Idempotent publishing: a repeat of a publish with the same key, inside the window, gets
the first answer instead of publishing again.

A repeat that arrives while the first is still publishing waits for its answer. A key
reused with a different request is refused, as it is almost always a client bug.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

Answer = dict[str, Any]


class KeyReused(ValueError):
    """The key was first used for a different request."""


@dataclass
class Entry:
    fingerprint: str
    expires: float
    answer: asyncio.Future[Answer] = field(default_factory=asyncio.Future)


class IdempotencyStore(Protocol):
    async def run(
        self, key: str, fingerprint: str, publish: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        """(answer, replayed): publish once per key and window, else the first answer."""
        ...


class MemoryIdempotency:
    def __init__(self, window: float) -> None:
        self.window = window
        self._entries: dict[str, Entry] = {}

    def _expire(self, now: float) -> None:
        # Entries are added in time order and share one window: the oldest expire first.
        expired = []
        for key, entry in self._entries.items():
            if entry.expires > now:
                break
            if entry.answer.done():
                expired.append(key)
        for key in expired:
            del self._entries[key]

    async def run(
        self, key: str, fingerprint: str, publish: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        while True:
            self._expire(time.monotonic())
            first = self._entries.get(key)
            if first is None:
                break
            if first.fingerprint != fingerprint:
                raise KeyReused(key)
            try:
                return await asyncio.shield(first.answer), True
            except asyncio.CancelledError:
                if not first.answer.cancelled():
                    raise  # this request was cancelled, not the first one
                # the first attempt failed without an answer: this one tries
        entry = self._entries[key] = Entry(fingerprint, time.monotonic() + self.window)
        try:
            answer = await publish()
        except BaseException:
            if self._entries.get(key) is entry:
                del self._entries[key]
            entry.answer.cancel()
            raise
        entry.answer.set_result(answer)
        return answer, False
