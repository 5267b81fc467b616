"""One WebSocket connection: identity, subscriptions and a bounded outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

# Below this many bytes waiting in the socket's own buffer, the outbox is written out;
# above it the frames wait in the outbox, where they count against the connection's bound.
TRANSPORT_HIGH_WATER = 64 * 1024


class SocketTransport(Protocol):
    """What the hub needs of a connection's transport (asyncio's or uvloop's)."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class Identity:
    user_id: str | None = None
    business_ids: tuple[str, ...] = ()
    expires_at: float | None = None

    def auto_channels(self) -> list[str]:
        channels = [f"user:{self.user_id}"] if self.user_id else []
        channels += [f"business:{business}" for business in self.business_ids]
        return [*channels, "global"]


@dataclass(eq=False, slots=True)
class Connection:
    connection_id: str
    ws: web.WebSocketResponse
    transport: SocketTransport
    identity: Identity
    remote: str
    channels: set[str] = field(default_factory=set)
    outbox: list[bytes] = field(default_factory=list)
    outbox_bytes: int = 0
    queued: bool = False
    closed: bool = False

    def enqueue(self, data: bytes) -> None:
        self.outbox.append(data)
        self.outbox_bytes += len(data)

    def owed_bytes(self) -> int:
        """Bytes this connection is owed: the outbox plus what the socket has not taken yet."""
        return self.outbox_bytes + self.transport.get_write_buffer_size()

    def write_out(self) -> bool:
        """Hand the outbox to the socket in one write if the socket keeps up; True if written."""
        if not self.outbox:
            return True
        if self.transport.is_closing():
            self.discard_outbox()
            return True
        if self.transport.get_write_buffer_size() > TRANSPORT_HIGH_WATER:
            return False
        data = self.outbox[0] if len(self.outbox) == 1 else b"".join(self.outbox)
        self.discard_outbox()
        self.transport.write(data)
        return True

    def discard_outbox(self) -> None:
        self.outbox.clear()
        self.outbox_bytes = 0
