"""One WebSocket connection: identity, subscriptions and a bounded outbox.

The hub fills the outbox and writes it out (see Hub._write, the hot path); this class only
holds the state, so there is one copy of that logic.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from aiohttp import web

from app.auth.identity import Identity


class SocketTransport(Protocol):
    """What the hub needs of a connection's transport (asyncio's or uvloop's)."""

    def write(self, data: bytes) -> None: ...

    def get_write_buffer_size(self) -> int: ...

    def is_closing(self) -> bool: ...

    def abort(self) -> None: ...


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
    queued: bool = False  # waiting in the hub's list of connections to write
    closed: bool = False

    def owed_bytes(self) -> int:
        """Bytes this connection is owed: the outbox plus what the socket has not taken yet."""
        return self.outbox_bytes + self.transport.get_write_buffer_size()

    def discard_outbox(self) -> None:
        self.outbox.clear()
        self.outbox_bytes = 0
