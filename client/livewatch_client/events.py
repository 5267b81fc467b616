"""What the server sends and answers, as plain typed values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


class Position(NamedTuple):
    """Where a client stands in a channel: the seq of the last event it has and the
    epoch of the channel's stream. Subscribing with it as `since` continues from there."""

    seq: int
    epoch: str


def _int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"'{name}' must be an integer, got {value!r}")
    return value


def _str(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string, got {value!r}")
    return value


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"'{name}' must be an object, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Event:
    """One event of one channel. `timestamp` is RFC 3339 in UTC, as the server sent it."""

    channel: str
    seq: int
    event: str
    data: dict[str, Any]
    timestamp: str

    @property
    def time(self) -> datetime:
        """The timestamp as an aware datetime."""
        return datetime.fromisoformat(self.timestamp)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "seq": self.seq,
            "event": self.event,
            "data": self.data,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> Event:
        """From an `event` frame or an entry of a history answer; ValueError if malformed."""
        return cls(
            channel=_str(body.get("channel"), "channel"),
            seq=_int(body.get("seq"), "seq"),
            event=_str(body.get("event"), "event"),
            data=_object(body.get("data"), "data"),
            timestamp=_str(body.get("timestamp"), "timestamp"),
        )


@dataclass(frozen=True, slots=True)
class Published:
    """The answer to a publish: the seq the event got on each channel, and how many
    connections on the answering node it was handed to. `replayed` is true when the
    server answered a repeat of an earlier attempt (same Idempotency-Key) from memory."""

    channels: dict[str, int]
    recipients: int
    replayed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The server's answer body."""
        return {"channels": self.channels, "recipients": self.recipients}

    @classmethod
    def from_wire(cls, body: Mapping[str, Any], replayed: bool = False) -> Published:
        channels = _object(body.get("channels"), "channels")
        return cls(
            channels={_str(k, "channel"): _int(v, "seq") for k, v in channels.items()},
            recipients=_int(body.get("recipients"), "recipients"),
            replayed=replayed,
        )


@dataclass(frozen=True, slots=True)
class History:
    """An answer of the history endpoint: events oldest first, the channel's position
    when read, and whether the events cover the whole range asked for."""

    channel: str
    position: Position
    complete: bool
    events: list[Event]

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> History:
        complete = body.get("complete")
        if not isinstance(complete, bool):
            raise ValueError(f"'complete' must be true or false, got {complete!r}")
        events = body.get("events")
        if not isinstance(events, list):
            raise ValueError(f"'events' must be a list, got {events!r}")
        return cls(
            channel=_str(body.get("channel"), "channel"),
            position=Position(_int(body.get("seq"), "seq"), _str(body.get("epoch"), "epoch")),
            complete=complete,
            events=[Event.from_wire(_object(item, "events[]")) for item in events],
        )
