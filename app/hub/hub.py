"""The hub: which connection listens to which channel, and fan-out to them.

Fan-out never awaits a socket. Each event frame is built once (by the broker) and
appended to every subscriber's outbox; one loop callback per iteration then hands each
connection everything it is owed in a single write. A connection whose owed bytes pass
the bound is closed with 1013 and its outbox freed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

from aiohttp import WSCloseCode

from app.hub.broker import Broker
from app.hub.connection import TRANSPORT_HIGH_WATER, Connection
from app.hub.metrics import CHANNEL_KINDS, OTHER_KIND, HubMetrics

log = logging.getLogger(__name__)

BACKLOG_RETRY_SECONDS = 0.02
# Connections written per loop callback. Writing to 10,000 sockets takes ~70 ms here; in
# chunks the loop serves requests, reads and new events in between, and an event published
# meanwhile joins the write of every connection not yet written.
FLUSH_CHUNK = 512


def channel_kind(channel: str) -> str:
    kind = channel.split(":", 1)[0]
    return kind if kind in CHANNEL_KINDS else OTHER_KIND


class Hub:
    def __init__(
        self,
        broker: Broker,
        metrics: HubMetrics,
        node: str,
        max_outbox_bytes: int,
        close_timeout: float = 5.0,
    ) -> None:
        self.broker = broker
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
            await self.broker.unsubscribe(channel)

    async def subscribe(self, conn: Connection, channel: str) -> None:
        if channel in conn.channels or conn.closed:
            return
        members = self.channels.get(channel)
        if members is None:
            members = self.channels[channel] = set()
            await self.broker.subscribe(channel)
        members.add(conn)
        conn.channels.add(channel)
        self.metrics.subscriptions.labels(channel_kind(channel)).inc()

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        if self._detach(conn, channel):
            await self.broker.unsubscribe(channel)

    def _detach(self, conn: Connection, channel: str) -> bool:
        """Drop one subscription; True if that left the channel empty (and removed it)."""
        if channel not in conn.channels:
            return False
        conn.channels.discard(channel)
        self.metrics.subscriptions.labels(channel_kind(channel)).dec()
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
        if conn.closed:
            return
        conn.enqueue(frame)
        self._mark_dirty(conn)

    def deliver(self, channel: str, frame: bytes) -> int:
        """Fan one encoded event frame out to the channel's local subscribers.

        This loop runs once per subscriber per event, so it is kept to a few attribute
        operations (Connection.enqueue, inlined); the figures are recorded once per event.
        """
        members = self.channels.get(channel)
        if not members:
            return 0
        started = time.perf_counter()
        size = len(frame)
        dirty = self._dirty
        for conn in members:
            conn.outbox.append(frame)
            conn.outbox_bytes += size
            if not conn.queued:
                conn.queued = True
                dirty.append(conn)
        self._schedule_flush()
        count = len(members)
        self.metrics.deliveries.inc(count)
        self.metrics.broadcast_duration.observe(time.perf_counter() - started)
        return count

    def _mark_dirty(self, conn: Connection) -> None:
        if not conn.queued:
            conn.queued = True
            self._dirty.append(conn)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        """Write each dirty connection's outbox in one write, or hold it, or cut it off.

        Per connection: a closing transport drops the outbox; a transport already holding
        more than TRANSPORT_HIGH_WATER keeps the frames in the outbox (retried shortly);
        otherwise everything owed goes out in one transport.write. Whenever the bytes owed
        (outbox plus transport buffer) pass max_outbox_bytes, the connection is cut off.
        This runs once per dirty connection per loop iteration, so Connection.write_out and
        Connection.owed_bytes are inlined here. At most flush_chunk connections are written
        per callback; the rest are written in the next loop iterations, in order.
        """
        self._flush_scheduled = False
        dirty = self._dirty
        if len(dirty) > self.flush_chunk:
            # The rest stay queued: frames delivered before their turn join their write.
            dirty, self._dirty = dirty[: self.flush_chunk], dirty[self.flush_chunk :]
            self._schedule_flush()
        else:
            self._dirty = []
        limit = self.max_outbox_bytes
        backlogged = self._backlogged
        for conn in dirty:
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
        if backlogged and self._retry_handle is None:
            self._retry_handle = asyncio.get_running_loop().call_later(
                BACKLOG_RETRY_SECONDS, self._retry_backlog
            )

    def _retry_backlog(self) -> None:
        self._retry_handle = None
        for conn in list(self._backlogged):
            self._mark_dirty(conn)

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
        unless its socket is backed up: then the outbox is dropped."""
        if not conn.closed:
            conn.write_out()
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

    def pending_messages(self) -> int:
        """Frames queued in outboxes that no socket has taken yet."""
        return sum(len(conn.outbox) for conn in self.connections.values())

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
