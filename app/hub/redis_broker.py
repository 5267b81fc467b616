"""The Redis broker: several livewatch nodes share channels, seqs, epochs and history.

Per channel, Redis holds a hash (`<prefix>:meta:<channel>`: `s` the top seq, `e` the epoch)
and a stream (`<prefix>:stream:<channel>`, entry id `<seq>-0`, fields `p` payload and `t`
publish time in ms, trimmed to exactly `history_size`). One script publishes: it assigns the
next seq, appends to the stream and PUBLISHes `<seq>\\n<epoch>\\n<payload>` on
`<prefix>:ch:<channel>`, all atomically, so an event published on any node has one seq.

Pub/sub is at most once: a message published while a node's connection is down is gone.
So each node remembers the last seq it delivered per channel and treats pub/sub only as
a doorbell: a gap, a reconnect or a silent connection (no answer to the idle probe) makes
it read the channel's stream from that seq and deliver what it missed, in order, before the
messages that came in meanwhile. If the stream no longer has them (a Redis restart without
persistence changes the epoch), the node's clients are told their channel was not
recovered (docs/protocol.md, Recovery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from livewatch_client.codes import Reason
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from app.hub.broker import BrokerUnavailable, HistoryPage, Local, Position, Published
from app.hub.memory_broker import new_epoch

log = logging.getLogger(__name__)

# KEYS: meta and stream of each channel; ARGV: payload, maxlen, ttl, then a topic and a
# candidate epoch per channel.
PUBLISH = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local out = {}
for i = 1, #KEYS / 2 do
  local meta, stream = KEYS[2 * i - 1], KEYS[2 * i]
  local epoch = redis.call('HGET', meta, 'e')
  if not epoch then
    epoch = ARGV[3 + 2 * i]
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'e', epoch)
  end
  local seq = redis.call('HINCRBY', meta, 's', 1)
  redis.call('XADD', stream, 'MAXLEN', ARGV[2], seq .. '-0', 'p', ARGV[1], 't', ms)
  redis.call('EXPIRE', stream, ARGV[3])
  redis.call('EXPIRE', meta, ARGV[3])
  redis.call('PUBLISH', ARGV[2 + 2 * i], seq .. '\\n' .. epoch .. '\\n' .. ARGV[1])
  out[#out + 1] = seq
  out[#out + 1] = epoch
end
return out
"""

HISTORY = """
local epoch = redis.call('HGET', KEYS[1], 'e')
if not epoch then
  epoch = ARGV[4]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'e', epoch, 's', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local top = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
local limit = tonumber(ARGV[2])
local out = {}
if limit > 0 then
  local now = redis.call('TIME')
  local oldest = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
    - tonumber(ARGV[3]) * 1000
  local raw
  if ARGV[1] == '' then
    raw = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)
    local n = #raw
    for i = 1, math.floor(n / 2) do raw[i], raw[n - i + 1] = raw[n - i + 1], raw[i] end
  else
    raw = redis.call('XRANGE', KEYS[2], (tonumber(ARGV[1]) + 1) .. '-0', '+', 'COUNT', limit)
  end
  for _, entry in ipairs(raw) do
    local fields = entry[2]
    local payload, stamp
    for i = 1, #fields, 2 do
      if fields[i] == 'p' then payload = fields[i + 1] elseif fields[i] == 't' then
        stamp = tonumber(fields[i + 1]) end
    end
    if stamp >= oldest then
      out[#out + 1] = string.match(entry[1], '^(%d+)')
      out[#out + 1] = payload
    end
  end
end
return {top, epoch, out}
"""

REDIS_ERRORS = (RedisError, OSError, TimeoutError)


@contextlib.contextmanager
def redis_unavailable() -> Iterator[None]:
    """A Redis error, as the BrokerUnavailable the rest of livewatch answers (503, health)."""
    try:
        yield
    except REDIS_ERRORS as exc:
        raise BrokerUnavailable(f"redis: {exc or type(exc).__name__}") from exc


def redis_client(url: str, timeout: float) -> aioredis.Redis:
    # Commands are not retried here: a publish during an outage must answer 503 promptly,
    # the reader reconnects on its own schedule, and a publish script sent twice after a
    # lost answer would publish twice. The publisher retries, under its idempotency key.
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


@dataclass
class ChannelState:
    """What this node has delivered of one channel, and what waits while it catches up."""

    seq: int | None = None  # None until the node has read where the channel stands
    epoch: str | None = None
    catching_up: bool = False
    reading: bool = False  # a catch-up is reading the stream for this state
    again: bool = False  # another catch-up was asked for while one was running
    held: list[tuple[int, str, bytes]] = field(default_factory=list)


class RedisBroker:
    def __init__(
        self,
        url: str,
        prefix: str = "livewatch",
        history_size: int = 1000,
        history_ttl: float = 600.0,
        timeout: float = 2.0,
        probe_interval: float = 5.0,
        backoff: tuple[float, float] = (0.1, 5.0),
        catch_up_limit: int = 10_000,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.history_size = history_size
        self.ttl_seconds = max(1, math.ceil(history_ttl))
        self.timeout = timeout
        self.probe_interval = probe_interval
        self.backoff = backoff
        self.catch_up_limit = catch_up_limit
        self.connected = False  # the pub/sub connection is up and answered its last probe
        self.last_error = "not started"
        self.reconnects = 0
        self._local: Local | None = None
        self._states: dict[str, ChannelState] = {}
        self._confirmations: dict[bytes, asyncio.Future[None]] = {}
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._reading: asyncio.Task[None] | None = None
        self._heard = 0.0
        self._catch_ups: set[asyncio.Task[None]] = set()
        self._ready = asyncio.Event()
        self._redis = redis_client(url, timeout)
        self._publish = self._redis.register_script(PUBLISH)
        self.commands = self._redis  # shared with the other Redis-backed parts of the node
        self._history = self._redis.register_script(HISTORY)

    # --- names ----------------------------------------------------------------------------

    def _meta(self, channel: str) -> str:
        return f"{self.prefix}:meta:{channel}"

    def _stream(self, channel: str) -> str:
        return f"{self.prefix}:stream:{channel}"

    def _topic(self, channel: str) -> bytes:
        return f"{self.prefix}:ch:{channel}".encode()

    def _channel_of(self, topic: bytes) -> str:
        return topic.decode()[len(self.prefix) + 4 :]

    @property
    def control_topic(self) -> bytes:
        """Subscribed for as long as the node runs, so the connection and its probe exist
        even with no channel held."""
        return f"{self.prefix}:control".encode()

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self, local: Local) -> None:
        self._local = local
        self._reader = asyncio.create_task(self._read_forever())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.timeout * 2):
                await self._ready.wait()
        if not self.connected:
            log.warning("redis broker: not connected yet (%s); retrying", self.last_error)

    async def stop(self) -> None:
        tasks = [t for t in (self._reader, *self._catch_ups) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_pubsub()
        await self._redis.aclose()
        self._local = None

    # --- publishing and reading ---------------------------------------------------------

    async def publish(self, channels: Sequence[str], payload: bytes) -> list[Published]:
        local = self._local
        if local is None:
            raise RuntimeError("broker is not started")
        if not self.connected:
            # This node's own subscribers would not get it, and its health says so already.
            raise BrokerUnavailable(f"redis is unreachable ({self.last_error})")
        keys: list[str] = []
        args: list[bytes | str | int] = [payload, self.history_size, self.ttl_seconds]
        for channel in channels:
            keys += [self._meta(channel), self._stream(channel)]
            args += [self._topic(channel), new_epoch()]
        with redis_unavailable():
            flat = await self._publish(keys=keys, args=args)
        # Local subscribers get the event through pub/sub like every other node's; the
        # recipients figure is how many of them hold the channel now.
        return [
            Published(channel, int(flat[2 * i]), text(flat[2 * i + 1]), local.audience(channel))
            for i, channel in enumerate(channels)
        ]

    async def history(self, channel: str, since: int | None, limit: int) -> HistoryPage:
        with redis_unavailable():
            top, epoch, flat = await self._history(
                keys=[self._meta(channel), self._stream(channel)],
                args=["" if since is None else since, limit, self.ttl_seconds, new_epoch()],
            )
        events = [(int(flat[i]), bytes(flat[i + 1])) for i in range(0, len(flat), 2)]
        return HistoryPage(Position(int(top), text(epoch)), events)

    # --- which channels this node receives --------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        if not self.connected:
            raise BrokerUnavailable(f"redis is unreachable ({self.last_error})")
        state = self._states[channel] = ChannelState(catching_up=True)  # hold until placed
        try:
            with redis_unavailable():
                await self._listen(self._topic(channel))
            page = await self.history(channel, None, 0)
        except BrokerUnavailable:
            if self._states.get(channel) is state:
                del self._states[channel]
            raise
        state.seq, state.epoch = page.position.seq, page.position.epoch
        self._release(channel, state)

    async def unsubscribe(self, channel: str) -> None:
        if self._states.pop(channel, None) is not None and self.connected:
            with contextlib.suppress(*REDIS_ERRORS):
                await self._pubsub.unsubscribe(self._topic(channel))

    async def _listen(self, *topics: bytes) -> None:
        """SUBSCRIBE and wait until Redis confirms: only then are the topics' messages ours.
        The first SUBSCRIBE opens the pub/sub connection, so the pump starts after it."""
        if self._pubsub is None:
            raise BrokerUnavailable(f"redis is unreachable ({self.last_error})")
        loop = asyncio.get_running_loop()
        waits = [self._confirmations.setdefault(t, loop.create_future()) for t in topics]
        await self._pubsub.subscribe(*topics)
        if self._reading is None:
            self._reading = asyncio.create_task(self._pump())
        async with asyncio.timeout(self.timeout):
            await asyncio.gather(*(asyncio.shield(w) for w in waits))

    # --- the reader: pub/sub, the idle probe, reconnects ------------------------------------

    async def _read_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self._connect()
                attempt = 0
                await self._read()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure means: reconnect
                was = self.connected
                self.connected = False
                self.last_error = f"{type(exc).__name__}: {exc}".rstrip(": ")
                if was:
                    log.warning("redis broker: lost the connection (%s)", self.last_error)
                await self._close_pubsub()
                low, high = self.backoff
                await asyncio.sleep(random.uniform(0, min(high, low * 2**attempt)))
                attempt += 1

    async def _connect(self) -> None:
        self._pubsub = redis_client(self.url, self.timeout).pubsub()
        await self._listen(self.control_topic, *(self._topic(c) for c in self._states))
        self.connected = True
        self.last_error = ""
        self._ready.set()
        if self.reconnects:
            log.info("redis broker: connected again; catching up %d channels", len(self._states))
        self.reconnects += 1
        for channel, state in self._states.items():
            if state.seq is not None:
                self._catch_up(channel, state)

    async def _read(self) -> None:
        """Wait on the pump; probe the connection whenever it has been quiet."""
        assert self._reading is not None
        while True:
            quiet = time.monotonic() - self._heard
            if quiet < self.probe_interval:
                done, _ = await asyncio.wait({self._reading}, timeout=self.probe_interval - quiet)
                if done:
                    self._reading.result()
                    raise ConnectionError("the pub/sub reader stopped")
                continue
            before = self._heard
            await self._pubsub.ping()
            done, _ = await asyncio.wait({self._reading}, timeout=self.timeout)
            if done:
                self._reading.result()
                raise ConnectionError("the pub/sub reader stopped")
            if self._heard == before:
                raise TimeoutError(f"no answer to the idle probe within {self.timeout:g} s")

    async def _pump(self) -> None:
        """Read every pub/sub message as it comes; any error ends the connection."""
        self._heard = time.monotonic()
        while True:
            message = await self._pubsub.get_message(timeout=None)
            self._heard = time.monotonic()
            if message is None:
                continue
            kind = message["type"]
            if kind == "message":
                self._on_message(message["channel"], message["data"])
            elif kind == "subscribe":
                waiter = self._confirmations.pop(message["channel"], None)
                if waiter is not None and not waiter.done():
                    waiter.set_result(None)

    async def _close_pubsub(self) -> None:
        reading, self._reading = self._reading, None
        if reading is not None:
            reading.cancel()
            with contextlib.suppress(BaseException):
                await reading
        for waiter in self._confirmations.values():
            waiter.cancel()
        self._confirmations.clear()
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
            self._pubsub = None

    # --- in order, once, or told ------------------------------------------------------------

    def _on_message(self, topic: bytes, data: bytes) -> None:
        channel = self._channel_of(topic)
        state = self._states.get(channel)
        if state is None:
            return
        seq_text, epoch, payload = data.split(b"\n", 2)
        if state.catching_up or state.seq is None:
            state.held.append((int(seq_text), epoch.decode(), payload))
            return
        self._accept(channel, state, int(seq_text), epoch.decode(), payload)

    def _accept(
        self, channel: str, state: ChannelState, seq: int, epoch: str, payload: bytes
    ) -> None:
        assert state.seq is not None
        if epoch != state.epoch:
            # A new stream (Redis lost the old one): what came before `seq` in it is unknown.
            self._tell_lost(channel, Position(seq - 1, epoch), Reason.EPOCH_CHANGED)
            state.seq, state.epoch = seq - 1, epoch
        if seq <= state.seq:
            return  # already delivered (read from the stream while catching up)
        if seq > state.seq + 1:
            state.held.append((seq, epoch, payload))
            self._catch_up(channel, state)
            return
        state.seq = seq
        if self._local is not None:
            self._local.deliver(channel, seq, payload)

    def _release(self, channel: str, state: ChannelState) -> None:
        """Deliver what was held while the channel caught up, in seq order."""
        state.catching_up = False
        # In arrival order: pub/sub keeps a channel's publish order, across a change of
        # epoch too, which a sort by seq would mix up.
        held, state.held = state.held, []
        for seq, epoch, payload in held:
            if state.catching_up:  # a new gap started another catch-up: keep the rest
                state.held.append((seq, epoch, payload))
            else:
                self._accept(channel, state, seq, epoch, payload)

    def _catch_up(self, channel: str, state: ChannelState) -> None:
        """Read the channel's stream from the last seq delivered here; one read at a time per
        channel, and a request during a read makes another read follow it."""
        state.catching_up = True
        if state.reading:
            state.again = True
            return
        state.reading = True
        task = asyncio.create_task(self._catch_up_from_stream(channel, state))
        self._catch_ups.add(task)
        task.add_done_callback(self._catch_ups.discard)

    async def _catch_up_from_stream(self, channel: str, state: ChannelState) -> None:
        delay = self.backoff[0]
        try:
            while self._states.get(channel) is state:
                state.again = False
                try:
                    await self._read_missed(channel, state)
                except BrokerUnavailable:
                    if not self.connected:
                        return  # still catching up: the reconnect asks again
                    # The read failed while pub/sub stays up (Redis paused, a command
                    # connection dropped): no reconnect will ask again, so read again soon.
                    await asyncio.sleep(delay)
                    delay = min(self.backoff[1], delay * 2)
                    state.again = True
                    continue
                if not state.again:
                    break
        finally:
            state.reading = False
        if self._states.get(channel) is state:
            self._release(channel, state)

    async def _read_missed(self, channel: str, state: ChannelState) -> None:
        assert state.seq is not None
        page = await self.history(channel, state.seq, self.catch_up_limit)
        if self._states.get(channel) is not state:
            return
        top = page.position
        events = page.events
        if top.epoch != state.epoch or top.seq < state.seq:
            self._tell_lost(channel, top, Reason.EPOCH_CHANGED)
            state.seq, state.epoch = top.seq, top.epoch
        elif top.seq > state.seq and (not events or events[0][0] != state.seq + 1):
            self._tell_lost(channel, top, Reason.TOO_OLD)
            state.seq = top.seq
        else:
            for seq, payload in events:
                if seq == state.seq + 1 and self._local is not None:
                    state.seq = seq
                    self._local.deliver(channel, seq, payload)
            if state.seq < top.seq:  # more than one read's worth behind
                self._tell_lost(channel, top, Reason.TOO_MANY)
                state.seq = top.seq

    def _tell_lost(self, channel: str, position: Position, reason: Reason) -> None:
        log.warning(
            "redis broker: events of %s were lost (%s); its subscribers here are told",
            channel,
            reason,
        )
        if self._local is not None:
            self._local.lost(channel, position, reason)

    # --- health -------------------------------------------------------------------------------

    async def ping(self) -> None:
        """Raise BrokerUnavailable unless both the command and the pub/sub side work."""
        if not self.connected:
            raise BrokerUnavailable(f"the pub/sub connection is down ({self.last_error})")
        with redis_unavailable():
            await self._redis.ping()


def text(value: Any) -> str:
    """A Redis reply as text, whether the client decodes replies or not."""
    return value.decode() if isinstance(value, bytes) else str(value)
