"""The broker carries published events to every hub that has subscribers.

The memory broker serves one process. A networked broker (Redis) implements the same
interface so that several livewatch nodes share channels and sequence numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from app.hub import protocol

# Called with (channel, encoded event frame); returns how many local connections got it.
Deliver = Callable[[str, bytes], int]


@dataclass(frozen=True)
class Published:
    channel: str
    seq: int
    recipients: int


class Broker(Protocol):
    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    async def publish(
        self, channel: str, event: str, data: Mapping[str, Any], timestamp: str
    ) -> Published: ...

    async def last_seq(self, channel: str) -> int: ...

    async def subscribe(self, channel: str) -> None:
        """The local hub gained its first subscriber on channel."""

    async def unsubscribe(self, channel: str) -> None:
        """The local hub lost its last subscriber on channel."""


class MemoryBroker:
    """In-process broker: sequence numbers in a dict, delivery by direct call."""

    def __init__(self) -> None:
        self._seqs: dict[str, int] = {}
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None

    async def publish(
        self, channel: str, event: str, data: Mapping[str, Any], timestamp: str
    ) -> Published:
        if self._deliver is None:
            raise RuntimeError("broker is not started")
        seq = self._seqs.get(channel, 0) + 1
        self._seqs[channel] = seq
        frame = protocol.event_frame(channel, seq, event, data, timestamp)
        return Published(channel, seq, self._deliver(channel, frame))

    async def last_seq(self, channel: str) -> int:
        return self._seqs.get(channel, 0)

    async def subscribe(self, channel: str) -> None:
        return None

    async def unsubscribe(self, channel: str) -> None:
        return None
