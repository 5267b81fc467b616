"""The broker interface: how published events reach every hub that has subscribers.

A broker assigns each channel's seq, keeps each channel's bounded history, and carries
encoded event payloads (see `protocol.event_payload`); it never builds a wire frame. Each
channel stream has an epoch, a random string that changes whenever the stream's history
is lost, so a client can tell "seq 7 of the stream I knew" from "seq 7 of a new one".

The memory broker serves one process; a networked broker implements the same interface so
that several nodes share channels, seqs and history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from livewatch_client.codes import Reason


class BrokerUnavailable(RuntimeError):
    """The broker cannot take or serve events right now (its backend is unreachable)."""


@dataclass(frozen=True)
class Position:
    """Where a channel stream stands: the seq of its latest event (0 if none) and its epoch."""

    seq: int
    epoch: str


@dataclass(frozen=True)
class Published:
    channel: str
    seq: int
    epoch: str
    recipients: int


@dataclass(frozen=True)
class HistoryPage:
    """Events of one channel after a seq, oldest first, and the stream's position when read.

    `events` holds (seq, payload) pairs. If the stream no longer holds the event right after
    the requested seq (trimmed by count or age), `events` starts later: the caller sees the
    gap from the first seq."""

    position: Position
    events: list[tuple[int, bytes]]


class Local(Protocol):
    """What a broker hands events to: this node's hub."""

    def deliver(self, channel: str, seq: int, payload: bytes) -> int:
        """Fan one event out to the local subscribers; how many got it."""
        ...

    def lost(self, channel: str, position: Position, reason: Reason) -> None:
        """This node lost events of channel that it cannot replay: tell its subscribers."""
        ...

    def audience(self, channel: str) -> int:
        """How many local connections hold channel."""
        ...


class Broker(Protocol):
    async def start(self, local: Local) -> None: ...

    async def stop(self) -> None: ...

    async def publish(self, channels: Sequence[str], payload: bytes) -> list[Published]:
        """Publish one event on each channel, all or none: each gets its channel's next seq."""
        ...

    async def history(self, channel: str, since: int | None, limit: int) -> HistoryPage:
        """Up to `limit` events with seq > since, oldest first; with since None, the
        latest `limit` events. limit 0 reads the position only."""
        ...

    async def subscribe(self, channel: str) -> None:
        """The local hub gained its first subscriber on channel; from the moment this
        returns, the channel's new events reach `deliver`."""

    async def unsubscribe(self, channel: str) -> None:
        """The local hub lost its last subscriber on channel."""

    async def ping(self) -> None:
        """Raise BrokerUnavailable unless the broker can take and deliver events now."""
