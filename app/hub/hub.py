"""The hub: which connection listens to which channel, and fan-out to them.

Fan-out never awaits a socket. Each event frame is built once and appended to every
subscriber's outbox; one loop callback per iteration then hands each connection everything
it is owed in a single write. A connection whose owed bytes pass the bound is closed with
1013 and its outbox freed.

The hot path is `_enqueue` (once per subscriber per event) and `_write` (once per owed
connection per loop iteration). Both are written as flat loops over plain attributes:
a method call per connection there costs about as much as the work itself
(bench/README.md has the figures).

Subscribing reads the channel's position (and, to recover, its history) from the broker,
which may take a round trip. Meanwhile the channel's live events for that connection are
buffered; once the read is back, the replayed events, the `subscribed` frame and the
buffered events with a later seq go out together, so nothing is missed or sent twice
(docs/protocol.md, Recovery). With a shared broker the read can be ahead of what the broker
has delivered to this node so far (the replay comes from Redis, the live events through the
node's own connection): the new subscriber then skips those live events when they arrive,
up to the seq it was already sent.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import WSCloseCode
from livewatch_client.codes import Reason

from app.channels import kind_of
from app.hub import protocol
from app.hub.broker import Broker, BrokerUnavailable, HistoryPage, Position
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
REPLAY_CACHE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class HubFigures:
    connections: int
    queued_frames: int


class ReplayFrames:
    """Frames of replayed events, kept for the next client that replays them: clients that
    recover together (a reconnect storm) get the same events, and each frame is built
    once for all of them. Bounded by bytes, oldest out first."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._frames: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()

    def frame(self, channel: str, epoch: str, seq: int, payload: bytes) -> bytes:
        key = (channel, epoch, seq)
        frame = self._frames.get(key)
        if frame is not None:
            self._frames.move_to_end(key)
            return frame
        frame = protocol.event_frame(channel, seq, payload)
        if len(frame) <= self.max_bytes // 16:
            self._frames[key] = frame
            self.bytes += len(frame)
            while self.bytes > self.max_bytes:
                _, dropped = self._frames.popitem(last=False)
                self.bytes -= len(dropped)
        return frame


@dataclass(frozen=True)
class Subscription:
    channel: str
    position: Position
    recovered: bool | None = None  # None: no recovery was asked for
    reason: Reason | None = None

    def frame(self) -> bytes:
        body: dict[str, object] = {
            "type": "subscribed",
            "channel": self.channel,
            "seq": self.position.seq,
            "epoch": self.position.epoch,
        }
        if self.recovered is not None:
            body["recovered"] = self.recovered
        if self.reason is not None:
            body["reason"] = self.reason
        return protocol.frame(body)


def recovery_verdict(
    page: HistoryPage, since: Position, replay_limit: int
) -> tuple[list[tuple[int, bytes]], Reason | None]:
    """What a client that saw `since` is owed: every event after it, or why not. A client
    at seq 0 has seen nothing of the channel, so any epoch will do for it."""
    top = page.position
    if (since.epoch != top.epoch and since.seq > 0) or since.seq > top.seq:
        return [], Reason.EPOCH_CHANGED
    missed = top.seq - since.seq
    if missed > replay_limit:
        return [], Reason.TOO_MANY
    events = page.events
    if missed and (not events or events[0][0] != since.seq + 1 or events[-1][0] != top.seq):
        return [], Reason.TOO_OLD
    return events, None


class Hub:
    def __init__(
        self,
        broker: Broker,
        metrics: HubMetrics,
        node: str,
        max_outbox_bytes: int,
        close_timeout: float = 5.0,
        replay_limit: int = 1000,
    ) -> None:
        self._broker = broker
        self.replay_limit = replay_limit
        # Tells this process apart from the one before a restart on the same node.
        self.boot_id = secrets.token_urlsafe(6)
        self.metrics = metrics
        self.node = node
        self.max_outbox_bytes = max_outbox_bytes
        self.close_timeout = close_timeout
        self.connections: dict[str, Connection] = {}
        self.per_user: Counter[str] = Counter()
        self.channels: dict[str, set[Connection]] = {}
        # channel -> connection -> live (seq, frame)s buffered while its subscribe reads
        self._pending: dict[str, dict[Connection, list[tuple[int, bytes]]]] = {}
        # channel -> the broker's subscribe for it, which every local subscriber awaits
        self._joins: dict[str, asyncio.Future[None]] = {}
        # channel -> new subscriber -> the seq it was sent up to, in case the broker has not
        # delivered that far here yet: its live events up to that seq are skipped
        self._floors: dict[str, dict[Connection, int]] = {}
        self._dirty: list[Connection] = []
        self._backlogged: set[Connection] = set()
        self._flush_scheduled = False
        self._retry_handle: asyncio.TimerHandle | None = None
        self._closing_tasks: set[asyncio.Task[None]] = set()
        self.flush_chunk = FLUSH_CHUNK
        self._replayed = ReplayFrames(REPLAY_CACHE_BYTES)

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
        for channel in list(conn.channels):
            self._detach(conn, channel)
            await self._leave_if_unwanted(channel)

    async def open(self, conn: Connection, welcome: bytes, channels: list[str]) -> None:
        """Subscribe a new connection to its own channels. It gets `welcome` first and
        then their events: once a client has read its welcome, they are live."""
        await self._subscribe(conn, [(channel, None) for channel in channels], False, welcome)

    async def subscribe(
        self,
        conn: Connection,
        channel: str,
        since: Position | None = None,
    ) -> Subscription:
        """Subscribe conn to channel; with `since`, first replay what it missed after it.

        The `subscribed` frame goes out between the replayed events and the live ones. An
        existing subscription is answered with its position and no replay."""
        (subscription,) = await self._subscribe(conn, [(channel, since)], True, None)
        return subscription

    async def _subscribe(
        self,
        conn: Connection,
        wanted: list[tuple[str, Position | None]],
        announce: bool,
        first: bytes | None,
    ) -> list[Subscription]:
        buffers: dict[str, list[tuple[int, bytes]]] = {}
        for channel, _ in wanted:
            if channel not in conn.channels and channel not in buffers:
                buffers[channel] = self._pending.setdefault(channel, {})[conn] = []
        pages: dict[str, HistoryPage] = {}
        try:
            for channel, since in wanted:
                if channel in buffers:
                    await self._join(channel)
                limit = self.replay_limit if since is not None and channel in buffers else 0
                pages[channel] = await self._broker.history(
                    channel, since.seq if since else None, limit
                )
        finally:
            for channel in buffers:
                waiting = self._pending[channel]
                del waiting[conn]
                if not waiting:
                    del self._pending[channel]
        # From here to the end nothing awaits: the frames go out in this order, and the
        # channel's next live event finds the connection among its members.
        if conn.closed:
            for channel in buffers:
                await self._leave_if_unwanted(channel)
            return [Subscription(channel, pages[channel].position) for channel, _ in wanted]
        frames = [first] if first is not None else []
        done: list[Subscription] = []
        for channel, since in wanted:
            page = pages[channel]
            subscription = Subscription(channel, page.position)
            buffered = buffers.pop(channel, None)
            replay: list[tuple[int, bytes]] = []
            if since is not None and buffered is not None:
                replay, reason = recovery_verdict(page, since, self.replay_limit)
                if reason is None and sum(len(p) for _, p in replay) > self.max_outbox_bytes // 2:
                    replay, reason = [], Reason.TOO_MANY
                subscription = Subscription(channel, page.position, reason is None, reason)
            epoch = page.position.epoch
            frames += [self._replayed.frame(channel, epoch, seq, data) for seq, data in replay]
            if announce:
                frames.append(subscription.frame())
            if buffered is not None:
                frames += [frame for seq, frame in buffered if seq > page.position.seq]
                self.channels.setdefault(channel, set()).add(conn)
                conn.channels.add(channel)
                top = page.position.seq
                if top > 0 and (not buffered or buffered[-1][0] <= top):
                    self._floors.setdefault(channel, {})[conn] = top
                self.metrics.subscriptions.labels(kind_of(channel)).inc()
            done.append(subscription)
        for frame in frames:
            self._enqueue((conn,), frame)
        return done

    async def unsubscribe(self, conn: Connection, channel: str) -> None:
        self._detach(conn, channel)
        await self._leave_if_unwanted(channel)

    async def read(self, channel: str, since: int | None, limit: int) -> HistoryPage:
        """A channel's position and history, for the history endpoint and for subscribing."""
        return await self._broker.history(channel, since, limit)

    async def _join(self, channel: str) -> None:
        """Have the broker deliver the channel here; concurrent subscribers wait for the
        first one's join. With the memory broker this does not yield to the loop."""
        joined = self._joins.get(channel)
        if joined is None:
            joined = self._joins[channel] = asyncio.get_running_loop().create_future()
            try:
                await self._broker.subscribe(channel)
            except BaseException:
                del self._joins[channel]  # a later subscriber asks the broker again
                joined.cancel()
                raise
            joined.set_result(None)
        elif not joined.done():
            try:
                await asyncio.shield(joined)
            except asyncio.CancelledError:
                if not joined.cancelled():
                    raise  # this subscriber was cancelled itself
                raise BrokerUnavailable(f"could not subscribe to {channel}") from None

    async def _leave_if_unwanted(self, channel: str) -> None:
        if channel in self.channels or channel in self._pending or channel not in self._joins:
            return
        del self._joins[channel]
        await self._broker.unsubscribe(channel)

    def _detach(self, conn: Connection, channel: str) -> None:
        """Drop one subscription; a channel left without members is forgotten."""
        if channel not in conn.channels:
            return
        conn.channels.discard(channel)
        self.metrics.subscriptions.labels(kind_of(channel)).dec()
        floors = self._floors.get(channel)
        if floors is not None and floors.pop(conn, None) is not None and not floors:
            del self._floors[channel]
        members = self.channels.get(channel)
        if members is not None:
            members.discard(conn)
            if not members:
                del self.channels[channel]

    # --- sending ----------------------------------------------------------------------

    def send(self, conn: Connection, frame: bytes) -> None:
        """Queue one frame for one connection, in order with its events."""
        if not conn.closed:
            self._enqueue((conn,), frame)

    def deliver(self, channel: str, seq: int, payload: bytes) -> int:
        """Fan one event out to the channel's local subscribers (the broker calls this)."""
        members: set[Connection] | None = self.channels.get(channel)
        pending = self._pending.get(channel) if self._pending else None
        if not members and not pending:
            return 0
        started = time.perf_counter()
        frame = protocol.event_frame(channel, seq, payload)
        count = 0
        if members and channel in self._floors:
            members = self._past_floor(channel, seq, members)
        if members:
            self._enqueue(members, frame)
            count = len(members)
            self.metrics.deliveries.inc(count)
        if pending:
            for buffered in pending.values():
                buffered.append((seq, frame))
            count += len(pending)
        self.metrics.broadcast_duration.observe(time.perf_counter() - started)
        return count

    def _past_floor(self, channel: str, seq: int, members: set[Connection]) -> set[Connection]:
        """The members that have not been sent this seq yet. The broker delivers in seq
        order, so a floor this seq has reached is forgotten."""
        floors = self._floors[channel]
        ahead = {conn for conn, floor in floors.items() if seq <= floor}
        for conn in [conn for conn, floor in floors.items() if floor <= seq]:
            del floors[conn]
        if not floors:
            del self._floors[channel]
        return members - ahead if ahead else members

    def lost(self, channel: str, position: Position, reason: Reason) -> None:
        """The broker lost events of channel that it cannot replay: every local subscriber
        is told as if it had just subscribed and not recovered (docs/protocol.md)."""
        self._floors.pop(channel, None)  # every member now continues from `position`
        members = self.channels.get(channel)
        if members:
            notice = Subscription(channel, position, False, reason).frame()
            self._enqueue(members, notice)

    def audience(self, channel: str) -> int:
        return len(self.channels.get(channel, ()))

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

    def presence(self) -> dict[str, int]:
        """Connections subscribed to each channel on this node."""
        return {channel: len(members) for channel, members in self.channels.items()}

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
