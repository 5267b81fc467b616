"""The hub: which connection listens to which channel, and fan-out to them.

Fan-out never awaits a socket. Each event frame is built once and appended to every
subscriber's outbox; one loop callback per iteration then hands each connection everything
it is owed in a single write. A connection whose owed bytes pass the bound is closed with
1013 and its outbox freed.

The hot path is `_enqueue` (once per subscriber per event) and `_write` (once per owed
connection per loop iteration). Both are written as flat loops over plain attributes:
a method call per connection there costs about as much as the work itself
(bench/README.md has the figures).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import WSCloseCode

from app.channels import kind_of
from app.hub import protocol
from app.hub.broker import Broker
from app.hub.connection import Connection
from app.hub.metrics import HubMetrics

log = logging.getLogger(__name__)

# Below this many bytes waiting in the socket's own buffer, the outbox is written out;
# above it the frames wait in the outbox, where they count against the connection's bound.
TRANSPORT_HIGH_WATER = 64 * 1024
BACKLOG_RETRY_SECONDS = 0.02
# Connections written per loop callback. Writing to 10,000 sockets takes ~70 ms here; in
# chunks the loop serves requests, reads and new events in between, and an event published
# meanwhile joins the write of every connection not yet written.
FLUSH_CHUNK = 512


@dataclass(frozen=True)
class HubFigures:
    connections: int
    queued_frames: int


class Hub:
    def __init__(
        self,
        broker: Broker,
        metrics: HubMetrics,
        node: str,
        max_outbox_bytes: int,
        close_timeout: float = 5.0,
    ) -> None:
        self._broker = broker
        self.metrics = metrics
        self.node = node
        self.max_outbox_bytes = max_outbox_bytes
        self.close_timeout = close_timeout
        self.connections: dict[str, Connection] = {}
        self.per_user: Counter[str] = Counter()
        self.channels: dict[str, set[Connection]] = {}
        self._dirty: list[Connection] = []
        self._backlogged: set[Connection] = set()
        self._flush_scheduled = False
        self._retry_handle: asyncio.TimerHandle | None = None
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self.flush_chunk = FLUSH_CHUNK

    # --- membership -------------------------------------------------------------------

    def add(self, conn: Connection) -> None:
        self.connections[conn.connection_id] = conn
        if conn.identity.user_id is not None:
            self.per_user[conn.identity.user_id] += 1
        self.metrics.connections.set(len(self.connections))

    async def remove(self, conn: Connection) -> None:
        conn.closed = True
        conn.discard_outbox()
        self._backlogged.discard(conn)
        if self.connections.pop(conn.connection_id, None) is not None:
            self.metrics.connections.set(len(self.connections))
            user = conn.identity.user_id
            if user is not None:
                self.per_user[user] -= 1
                if self.per_user[user] <= 0:
                    del self.per_user[user]
        emptied = [channel for channel in list(conn.channels) if self._detach(conn, channel)]
        for channel in emptied:
            await self._broker.unsubscribe(channel)

    async def subscribe(self, conn: Connection, channel: str) -> None:
        if channel in conn.channels or conn.closed:
            return
        members = self.channels.get(channel)
        if members is None:
            members = self.channels[channel] = set()
            await self._broker.subscribe(channel)
        members.add(conn)
        conn.channels.add(channel)
        self.metrics.subscriptions.labels(kind_of(channel)).inc()

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        if self._detach(conn, channel):
            await self._broker.unsubscribe(channel)

    async def last_seq(self, channel: str) -> int:
        return await self._broker.last_seq(channel)

    def _detach(self, conn: Connection, channel: str) -> bool:
        """Drop one subscription; True if that left the channel empty (and removed it)."""
        if channel not in conn.channels:
            return False
        conn.channels.discard(channel)
        self.metrics.subscriptions.labels(kind_of(channel)).dec()
        members = self.channels.get(channel)
        if members is None:
            return False
        members.discard(conn)
        if members:
            return False
        del self.channels[channel]
        return True

    # --- sending ----------------------------------------------------------------------

    def send(self, conn: Connection, frame: bytes) -> None:
        """Queue one frame for one connection, in order with its events."""
        if not conn.closed:
            self._enqueue((conn,), frame)

    def deliver(self, channel: str, seq: int, payload: bytes) -> int:
        """Fan one event out to the channel's local subscribers (the broker calls this)."""
        members = self.channels.get(channel)
        if not members:
            return 0
        started = time.perf_counter()
        self._enqueue(members, protocol.event_frame(channel, seq, payload))
        count = len(members)
        self.metrics.deliveries.inc(count)
        self.metrics.broadcast_duration.observe(time.perf_counter() - started)
        return count

    def _enqueue(self, conns: Iterable[Connection], frame: bytes) -> None:
        """Hot path: append one frame to each connection's outbox and mark it owed."""
        size = len(frame)
        dirty = self._dirty
        for conn in conns:
            conn.outbox.append(frame)
            conn.outbox_bytes += size
            if not conn.queued:
                conn.queued = True
                dirty.append(conn)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write the owed connections, at most flush_chunk of them per loop callback; the
        rest stay queued, and frames delivered before their turn join their write."""
        self._flush_scheduled = False
        dirty = self._dirty
        if len(dirty) > self.flush_chunk:
            dirty, self._dirty = dirty[: self.flush_chunk], dirty[self.flush_chunk :]
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        else:
            self._dirty = []
        self._write(dirty)
        if self._backlogged and self._retry_handle is None:
            self._retry_handle = asyncio.get_running_loop().call_later(
                BACKLOG_RETRY_SECONDS, self._retry_backlog
            )

    def _write(self, conns: Iterable[Connection]) -> None:
        """Hot path: hand each connection its whole outbox in one write, hold it, or cut it off.

        Per connection: a closing transport drops the outbox; a transport already holding
        more than TRANSPORT_HIGH_WATER keeps the frames in the outbox (retried shortly);
        otherwise everything owed goes out in one transport.write. Whenever the bytes owed
        (outbox plus transport buffer) pass max_outbox_bytes, the connection is cut off.
        """
        limit = self.max_outbox_bytes
        backlogged = self._backlogged
        for conn in conns:
            conn.queued = False
            if conn.closed:
                continue
            transport = conn.transport
            outbox = conn.outbox
            buffered = transport.get_write_buffer_size()
            if not outbox or transport.is_closing():
                if outbox:
                    conn.discard_outbox()
                if buffered > limit:
                    self._cut_off(conn)
                elif backlogged:
                    backlogged.discard(conn)
            elif buffered > TRANSPORT_HIGH_WATER:
                if conn.outbox_bytes + buffered > limit:
                    self._cut_off(conn)
                else:
                    backlogged.add(conn)
            else:
                data = outbox[0] if len(outbox) == 1 else b"".join(outbox)
                outbox.clear()
                conn.outbox_bytes = 0
                transport.write(data)
                # Only a write this large can leave more than the bound in the transport.
                if buffered + len(data) > limit and transport.get_write_buffer_size() > limit:
                    self._cut_off(conn)
                elif backlogged:
                    backlogged.discard(conn)

    def _retry_backlog(self) -> None:
        self._retry_handle = None
        backlog = list(self._backlogged)
        for conn in backlog:
            if not conn.queued:
                conn.queued = True
                self._dirty.append(conn)
        if backlog and not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _cut_off(self, conn: Connection) -> None:
        log.warning(
            "closing slow connection %s (%s): %d bytes owed, bound is %d",
            conn.connection_id,
            conn.remote,
            conn.owed_bytes(),
            self.max_outbox_bytes,
        )
        self.metrics.slow_disconnects.inc()
        conn.closed = True  # counted and closed once, even if more frames arrive meanwhile
        conn.discard_outbox()
        self.track(
            asyncio.get_running_loop().create_task(
                self.close(conn, WSCloseCode.TRY_AGAIN_LATER, b"too slow")
            )
        )

    def track(self, task: asyncio.Task[None]) -> None:
        """Keep a closing task alive until it is done; shutdown waits for these."""
        self._closing_tasks.add(task)
        task.add_done_callback(self._closing_tasks.discard)

    async def close(self, conn: Connection, code: int, message: bytes) -> None:
        """Close one connection with a close frame; a peer that does not answer is aborted.

        What the connection is owed goes out first (an error frame may explain the close),
        under the same bound as every write: a connection over it is cut off instead."""
        if not conn.closed:
            self._write((conn,))
            if conn.closed:
                return
        await self.remove(conn)
        transport = conn.transport
        try:
            async with asyncio.timeout(self.close_timeout):
                await conn.ws.close(code=code, message=message, drain=False)
        except TimeoutError:
            log.info("connection %s did not answer the close; aborting it", conn.connection_id)
            transport.abort()
        finally:
            if not transport.is_closing():
                transport.abort()

    # --- figures ----------------------------------------------------------------------

    def figures(self) -> HubFigures:
        return HubFigures(
            connections=len(self.connections),
            queued_frames=sum(len(conn.outbox) for conn in self.connections.values()),
        )

    def stats(self) -> dict[str, object]:
        return {
            "total_connections": len(self.connections),
            "channels": {channel: len(members) for channel, members in self.channels.items()},
        }

    async def close_all(self, code: int, message: bytes) -> None:
        """Close every open connection (server shutdown) and wait for the closes."""
        conns = list(self.connections.values())
        log.info("closing %d connections with code %d (%s)", len(conns), code, message.decode())
        await asyncio.gather(
            *(self.close(conn, code, message) for conn in conns), return_exceptions=True
        )
        if self._closing_tasks:
            await asyncio.gather(*self._closing_tasks, return_exceptions=True)
        if self._retry_handle is not None:
            self._retry_handle.cancel()
            self._retry_handle = None
