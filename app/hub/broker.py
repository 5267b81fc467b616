"""The broker interface: how published events reach every hub that has subscribers.

A broker assigns each channel's seq and carries encoded event payloads (see
`protocol.event_payload`); it never builds a wire frame. The memory broker serves one
process; a networked broker implements the same interface so that several nodes share
channels and seqs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# Called with (channel, seq, payload); returns how many local connections got the event.
Deliver = Callable[[str, int, bytes], int]


@dataclass(frozen=True)
class Published:
    channel: str
    seq: int
    recipients: int


class Broker(Protocol):
    async def start(self, deliver: Deliver) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channel: str, payload: bytes) -> Published: ...

    async def last_seq(self, channel: str) -> int:
        """The seq of the channel's latest event; 0 before its first."""
        ...

    async def subscribe(self, channel: str) -> None:
        """The local hub gained its first subscriber on channel."""

    async def unsubscribe(self, channel: str) -> None:
        """The local hub lost its last subscriber on channel."""
