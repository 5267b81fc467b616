"""One channel's events, in seq order, each exactly once, across reconnects.

A subscription remembers the position (seq and epoch) of the last event it was handed.
After a reconnect the connection subscribes again with that position as `since`; the
server replays what was missed, and events at or below the position are dropped, so none
is yielded twice. When the server cannot replay what was missed, the iterator raises
NotRecovered at that point; iterating again continues after the new position.
"""

from __future__ import annotations

import asyncio
import logging
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from livewatch_client.codes import Reason, reason_of
from livewatch_client.events import Event, History, Position
from livewatch_client.exceptions import ClientClosed, LivewatchError, NotRecovered, Unavailable

if TYPE_CHECKING:
    from livewatch_client.api import Api
    from livewatch_client.connection import Connection

log = logging.getLogger("livewatch_client")


class _End:
    """Queued when the subscription ends; iteration stops there."""


END: Final = _End()
# A history read that failed all its attempts waits like a retry this far into a backoff.
HISTORY_ROUND_EXPONENT = 4
# An event with the epoch it belongs to, a gap, a fatal error, or the end.
Item = tuple[Event, str] | NotRecovered | LivewatchError | _End


def start_position(
    since: int | tuple[int, str] | None, last: int | None
) -> tuple[Position | None, int | None]:
    """(position to subscribe from, seq to read history after) from what the user gave."""
    if since is not None and last is not None:
        raise ValueError("give since or last, not both")
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise ValueError("last must be a positive integer")
    if since is None:
        return None, None
    if isinstance(since, tuple):
        seq, epoch = since
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError("since: the seq must be an integer >= 0")
        if not isinstance(epoch, str) or not epoch:
            raise ValueError("since: the epoch must be the non-empty epoch string")
        return Position(seq, epoch), None
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise ValueError("since must be a seq >= 0 or a (seq, epoch) pair")
    return None, since


class Subscription:
    """Made by Client.subscribe; use it as `async with ... as sub: async for event in sub`.

    Entering returns once the server has answered the subscribe (retrying the connection
    as long as it takes), so every event published after that reaches this iterator.
    """

    def __init__(
        self,
        connection: Connection,
        api: Api,
        channel: str,
        *,
        since: int | tuple[int, str] | None = None,
        last: int | None = None,
        history_limit: int | None = None,
    ) -> None:
        self.channel = channel
        self._connection = connection
        self._api = api
        self._resume, self._history_after = start_position(since, last)
        self._last = last
        self._history_limit = history_limit
        self._position: Position | None = self._resume
        self._queue: asyncio.Queue[Item] = asyncio.Queue()
        self._ready: asyncio.Future[None] | None = None
        self._entered = False
        #: Events dropped because they were already handed over (seen again after a replay).
        self.duplicates = 0

    @property
    def position(self) -> Position | None:
        """Position of the last event yielded (or of the gap last raised): persist it and
        pass it as `since` to continue from here in another process. None until known."""
        return self._position

    # --- the user's side --------------------------------------------------------------

    async def __aenter__(self) -> Subscription:
        if self._entered:
            raise RuntimeError("a subscription is entered once; call client.subscribe() again")
        self._entered = True
        self._ready = asyncio.get_running_loop().create_future()
        self._connection.check_attachable(self.channel)
        try:
            if self._last is not None or self._history_after is not None:
                await self._read_history()
            self._connection.attach(self)
            await self._ready
        except BaseException:
            self._connection.detach(self)
            self._queue.put_nowait(END)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._connection.detach(self)
        self._queue.put_nowait(END)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        if not self._entered:
            raise RuntimeError("use `async with client.subscribe(channel) as sub` first")
        item = await self._queue.get()
        if isinstance(item, _End):
            self._queue.put_nowait(END)  # and on every later call
            raise StopAsyncIteration
        if isinstance(item, NotRecovered):
            self._position = item.position
            raise item
        if isinstance(item, LivewatchError):
            self._queue.put_nowait(item)  # the subscription is over: raise it again later
            raise item
        event, epoch = item
        self._position = Position(event.seq, epoch)
        return event

    # --- cold start from the history endpoint -----------------------------------------

    async def _read_history(self) -> None:
        """Queue the events the history endpoint holds after `since` (or the last N), and
        set the position to subscribe from: the answer's, so nothing is missed in between."""
        if self._last is not None:
            page = await self._history(None, self._last)
            for event in page.events:
                self._queue.put_nowait((event, page.position.epoch))
            self._resume = page.position
            return
        after = self._history_after
        assert after is not None
        epoch: str | None = None
        while True:
            page = await self._history(after, self._history_limit)
            top = page.position
            if (epoch is not None and top.epoch != epoch) or after > top.seq:
                # the stream was lost between two pages, or `since` is ahead of it
                self._gap(Reason.EPOCH_CHANGED, top)
                return
            epoch = top.epoch
            events = [event for event in page.events if event.seq > after]
            # Incomplete means a gap only where the events do not start right after
            # `after`; an answer that starts there was merely cut short by the limit.
            if not page.complete and (not events or events[0].seq != after + 1):
                held = Position(events[0].seq - 1, epoch) if events else top
                self._gap(Reason.TOO_OLD, held)
            for event in events:
                self._queue.put_nowait((event, epoch))
                after = event.seq
            if not events or after >= top.seq:
                self._resume = Position(max(after, top.seq), epoch)
                return
            # the page stopped short of the top (the limit): read on from its last event

    async def _history(self, since: int | None, limit: int | None) -> History:
        """One history read, tried as long as it takes (like the WebSocket): a server that
        is down when the subscription starts is waited for. A 4xx still raises."""
        rounds = 0
        while True:
            try:
                return await self._api.history(self.channel, since, limit)
            except Unavailable as exc:
                delay = self._api.backoff.delay(rounds + HISTORY_ROUND_EXPONENT)
                rounds += 1
                log.warning("%s; trying again in %.2f s", exc, delay)
                await asyncio.sleep(delay)

    # --- the connection's side --------------------------------------------------------

    def subscribe_frame(self) -> dict[str, Any]:
        frame: dict[str, Any] = {"type": "subscribe", "channel": self.channel}
        if self._resume is not None:
            frame["since"] = {"seq": self._resume.seq, "epoch": self._resume.epoch}
        return frame

    def deliver(self, event: Event) -> None:
        """An event frame of this channel."""
        resume = self._resume
        if resume is None:
            return  # not subscribed yet and nothing owed
        if event.seq <= resume.seq:
            self.duplicates += 1
            return
        if event.seq != resume.seq + 1:
            self._gap(Reason.SEQ_GAP, Position(event.seq - 1, resume.epoch))
        self._resume = Position(event.seq, resume.epoch)
        self._queue.put_nowait((event, resume.epoch))

    def subscribed(self, frame: dict[str, Any]) -> None:
        """The server's `subscribed` answer on the current connection."""
        seq, epoch, recovered = frame.get("seq"), frame.get("epoch"), frame.get("recovered")
        if not isinstance(seq, int) or not isinstance(epoch, str):
            log.warning("ignoring a malformed subscribed frame: %r", frame)
            return
        now = Position(seq, epoch)
        if recovered is False:
            self._gap(reason_of(frame.get("reason")), now)
        elif (
            recovered is True and self._resume is not None and self._resume.seq < seq
        ):  # a recovery that left out events is not one
            self._gap(Reason.SEQ_GAP, now)
        self._resume = now
        if self._queue.empty():  # the user is caught up: they stand where the server does
            self._position = now
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(None)

    def fail(self, error: LivewatchError) -> None:
        """The subscription cannot go on: entering or iterating raises error."""
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
        else:
            self._queue.put_nowait(error)

    def finish(self) -> None:
        """The client closed."""
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ClientClosed("the client was closed"))
        self._queue.put_nowait(END)

    def _gap(self, reason: Reason | str, position: Position) -> None:
        log.warning(
            "%s: not recovered (%s); continuing after seq %d", self.channel, reason, position.seq
        )
        self._resume = position
        self._queue.put_nowait(NotRecovered(self.channel, reason, position))
