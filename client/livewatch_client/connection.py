"""The one WebSocket a Client holds: connects when the first subscription asks, reconnects
with backoff whenever it drops, and keeps every subscription subscribed.

The client connects with `auto_subscribe=false` and subscribes to the channels asked for,
each with `since` once its position is known, so a reconnect recovers what was missed.

The server answers the client's frames one by one, in the order sent (every `subscribe`,
`unsubscribe` and `ping` gets exactly one `subscribed`, `unsubscribed`, `pong` or `error`),
so the requests awaiting an answer are a queue and an `error` frame, which names no
channel, answers the oldest of them.

A server that stops answering is found two ways: the client's own `ping` frame must be
answered within ping_timeout, and aiohttp's WebSocket-level heartbeat closes a socket whose
pings go unanswered.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from livewatch_client.api import json_answer, refusal
from livewatch_client.backoff import Backoff
from livewatch_client.codes import ErrorCode, describe_close
from livewatch_client.events import Event
from livewatch_client.exceptions import (
    ClientClosed,
    HandshakeError,
    LivewatchError,
    RequestError,
    SubscriptionError,
)

log = logging.getLogger("livewatch_client")

# Handshake answers worth retrying; any other 4xx is the server refusing this client.
RETRYABLE_STATUSES = frozenset({408, 425, 429})
RATE_LIMIT_RETRY = 1.0  # seconds before re-sending a frame the server rate-limited


def describe(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        # its str() carries the URL, and with it the token
        return f"{type(exc).__name__}: HTTP {exc.status} {exc.message}"
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class BadWelcome(Exception):
    """The first frame of a connection was not `connected`."""


class Subscriber(Protocol):
    """What the connection needs of a subscription (livewatch_client.subscription)."""

    channel: str

    def subscribe_frame(self) -> dict[str, Any]: ...

    def subscribed(self, frame: dict[str, Any]) -> None: ...

    def deliver(self, event: Event) -> None: ...

    def fail(self, error: LivewatchError) -> None: ...

    def finish(self) -> None: ...


@dataclass(eq=False)
class Request:
    """A frame sent that awaits its answer."""

    kind: str  # "subscribe", "unsubscribe" or "ping"
    channel: str = ""
    sub: Subscriber | None = None
    pong: asyncio.Future[None] | None = None

    def answer(self) -> None:
        if self.pong is not None and not self.pong.done():
            self.pong.set_result(None)


@dataclass(frozen=True)
class Tuning:
    ping_interval: float = 15.0
    ping_timeout: float = 10.0
    heartbeat: float | None = 30.0
    connect_timeout: float = 10.0
    close_timeout: float = 2.0
    # Below the server's default rate limit (20/s, bursts of 40), so resubscribing many
    # channels after a reconnect is never refused.
    send_rate: float = 15.0
    send_burst: int = 30


class Link:
    """One open socket: the frames waiting to go out, and those awaiting an answer."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, rate: float, burst: int) -> None:
        self.ws = ws
        self.outgoing: asyncio.Queue[Request] = asyncio.Queue()
        self.awaiting: deque[Request] = deque()
        # channel -> unsubscribes not answered yet: the channel's events until then
        # belong to the subscription being left, not to a new one of the same channel
        self.unsubscribing: Counter[str] = Counter()
        self._lock = asyncio.Lock()
        self._rate = rate
        self._burst = burst
        self._tokens = float(burst)
        self._stamp = asyncio.get_running_loop().time()

    async def send(self, request: Request, frame: dict[str, Any]) -> None:
        async with self._lock:  # the queue of awaited answers is in the order sent
            self.awaiting.append(request)
            await self.ws.send_str(json.dumps(frame, separators=(",", ":")))

    def _refill(self) -> None:
        now = asyncio.get_running_loop().time()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    async def pace(self) -> None:
        """Wait until one more frame keeps within the send rate, and count it."""
        self._refill()
        while self._tokens < 1:
            await asyncio.sleep((1 - self._tokens) / self._rate)
            self._refill()
        self._tokens -= 1

    def spend(self) -> None:
        """Count a frame that does not wait its turn (a ping)."""
        self._refill()
        self._tokens -= 1

    def answered(self, kind: str | None, channel: str | None = None) -> Request | None:
        """The request an answer is for: the oldest awaiting one (of that kind)."""
        for index, request in enumerate(self.awaiting):
            if kind is None or (
                request.kind == kind and (channel is None or request.channel == channel)
            ):
                if index:
                    log.warning("a %s answer came out of order", kind)
                del self.awaiting[index]
                return request
        return None


class Connection:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        backoff: Backoff,
        tuning: Tuning,
    ) -> None:
        self._session = session
        self._url = url
        self._backoff = backoff
        self._tuning = tuning
        self._subs: dict[str, Subscriber] = {}
        self._link: Link | None = None
        self._task: asyncio.Task[None] | None = None
        self._fatal: LivewatchError | None = None
        self._closed = False
        #: How many times a connection was established (1 + reconnects).
        self.connects = 0
        #: The server's boot epoch from the latest `connected` frame.
        self.server_epoch: str | None = None
        #: Set while a connection is open.

    # --- subscriptions ----------------------------------------------------------------

    def check_attachable(self, channel: str) -> None:
        if self._closed:
            raise ClientClosed("the client is closed")
        if self._fatal is not None:
            raise self._fatal
        if channel in self._subs:
            raise ValueError(f"this client is already subscribed to {channel}")

    def attach(self, sub: Subscriber) -> None:
        self.check_attachable(sub.channel)
        self._subs[sub.channel] = sub
        if self._link is not None:
            self._link.outgoing.put_nowait(Request("subscribe", sub.channel, sub))
        elif self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def detach(self, sub: Subscriber) -> None:
        if self._subs.get(sub.channel) is not sub:
            return
        del self._subs[sub.channel]
        if self._link is not None:
            self._link.unsubscribing[sub.channel] += 1
            self._link.outgoing.put_nowait(Request("unsubscribe", sub.channel))

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for sub in list(self._subs.values()):
            sub.finish()
        self._subs.clear()

    # --- the connection loop ----------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._connect_forever()
        except Exception as exc:  # a bug, not a network failure: say so and stop
            log.exception("the connection loop failed")
            self._give_up(LivewatchError(f"the connection loop failed: {describe(exc)}"))

    def _give_up(self, error: LivewatchError) -> None:
        self._fatal = error
        for sub in list(self._subs.values()):
            sub.fail(error)
        self._subs.clear()

    async def _connect_forever(self) -> None:
        failures = 0
        loop = asyncio.get_running_loop()
        while True:
            try:
                ws, welcome = await self._open()
            except HandshakeError as exc:
                log.error("the server refused the connection: %s", exc)
                self._give_up(exc)
                return
            except (aiohttp.ClientError, OSError, TimeoutError, BadWelcome) as exc:
                what = f"could not connect ({describe(exc)})"
            else:
                opened = loop.time()
                what = f"connection lost ({await self._serve(ws, welcome)})"
                if loop.time() - opened >= self._backoff.max_delay:
                    failures = 0  # it had been up a while: this is a new run of failures
            delay = self._backoff.delay(failures)
            failures += 1
            log.warning("%s; reconnecting in %.2f s", what, delay)
            await asyncio.sleep(delay)

    async def _open(self) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
        tuning = self._tuning
        ws: aiohttp.ClientWebSocketResponse | None = None
        try:
            async with asyncio.timeout(tuning.connect_timeout):
                try:
                    ws = await self._session.ws_connect(
                        self._url,
                        heartbeat=tuning.heartbeat,
                        timeout=aiohttp.ClientWSTimeout(
                            ws_receive=None, ws_close=tuning.close_timeout
                        ),
                    )
                except aiohttp.WSServerHandshakeError as exc:
                    if 400 <= exc.status < 500 and exc.status not in RETRYABLE_STATUSES:
                        raise await self._refusal(exc.status) from exc
                    raise
                msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.CLOSE:
                # e.g. 1008 when this user already holds the most connections allowed
                why = f": {msg.extra}" if msg.extra else ""
                raise BadWelcome(f"closed at once with {describe_close(msg.data)}{why}")
            if msg.type is not aiohttp.WSMsgType.TEXT:
                raise BadWelcome(f"the first frame was {msg.type.name}, not connected")
            try:
                welcome = json.loads(msg.data)
            except ValueError:
                raise BadWelcome("the first frame was not JSON") from None
            if not isinstance(welcome, dict) or welcome.get("type") != "connected":
                raise BadWelcome(f"the first frame was not connected: {msg.data[:200]}")
        except BaseException:
            if ws is not None:
                await self._discard(ws)
            raise
        return ws, welcome

    async def _refusal(self, status: int) -> RequestError:
        """The server's reason for refusing the handshake, read with a plain GET of the
        same URL (aiohttp does not keep the body of a refused upgrade)."""
        body: dict[str, Any] = {}
        try:
            async with self._session.get(self._url) as response:
                if response.status == status:
                    body = await json_answer(response)
        except (aiohttp.ClientError, OSError):
            pass
        return refusal(status, body, "the server refused the WebSocket", HandshakeError)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse, welcome: dict[str, Any]) -> str:
        """Run one open connection until it drops; why it did."""
        self.connects += 1
        epoch = welcome.get("epoch")
        self.server_epoch = epoch if isinstance(epoch, str) else None
        log.info(
            "connected (connection %s on node %s, server epoch %s)",
            welcome.get("connection_id"),
            welcome.get("node"),
            self.server_epoch,
        )
        link = self._link = Link(ws, self._tuning.send_rate, self._tuning.send_burst)
        for sub in self._subs.values():
            link.outgoing.put_nowait(Request("subscribe", sub.channel, sub))
        tasks = [
            asyncio.create_task(self._read(link)),
            asyncio.create_task(self._write(link)),
            asyncio.create_task(self._ping(link)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finished = done.pop()
            error = finished.exception()
            if error is None:
                return finished.result()
            if not isinstance(error, aiohttp.ClientError | OSError):
                log.error("the connection failed", exc_info=error)
            return describe(error)
        finally:
            self._link = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for request in link.awaiting:
                if request.pong is not None:
                    request.pong.cancel()
            await self._discard(ws)

    async def _discard(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Close a socket, waiting at most close_timeout for the server's close frame."""
        try:
            async with asyncio.timeout(self._tuning.close_timeout):
                await ws.close()
        except (TimeoutError, aiohttp.ClientError, OSError):
            pass

    async def _read(self, link: Link) -> str:
        ws = link.ws
        while True:
            msg = await ws.receive()
            if msg.type is aiohttp.WSMsgType.TEXT:
                self._on_text(link, msg.data)
            elif msg.type is aiohttp.WSMsgType.ERROR:
                return describe(msg.data)
            elif msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSING,
                aiohttp.WSMsgType.CLOSED,
            ):
                return describe_close(ws.close_code)

    async def _write(self, link: Link) -> str:
        while True:
            request = await link.outgoing.get()
            await link.pace()
            if request.kind == "subscribe":
                sub = request.sub
                if sub is None or self._subs.get(request.channel) is not sub:
                    continue  # left before its subscribe went out
                frame = sub.subscribe_frame()
            else:
                frame = {"type": request.kind, "channel": request.channel}
            await link.send(request, frame)

    async def _ping(self, link: Link) -> str:
        loop = asyncio.get_running_loop()
        timeout = self._tuning.ping_timeout
        while True:
            await asyncio.sleep(self._tuning.ping_interval)
            request = Request("ping", pong=loop.create_future())
            assert request.pong is not None
            link.spend()
            try:
                async with asyncio.timeout(timeout):
                    await link.send(request, {"type": "ping"})
                    await request.pong
            except TimeoutError:
                return f"no pong within {timeout:g} s"

    # --- frames from the server -------------------------------------------------------

    def _on_text(self, link: Link, raw: str) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("ignoring a frame that is not JSON: %.200s", raw)
            return
        if not isinstance(frame, dict):
            log.warning("ignoring a frame that is not an object: %.200s", raw)
            return
        kind = frame.get("type")
        channel = frame.get("channel")
        if kind == "event":
            if not isinstance(channel, str):
                return
            sub = self._subs.get(channel)
            if sub is None or link.unsubscribing[channel] > 0:
                return
            try:
                event = Event.from_wire(frame)
            except ValueError as exc:
                # dropped; its seq will be missing, which the subscription reports as a gap
                log.error("dropping a malformed event frame: %s", exc)
                return
            sub.deliver(event)
        elif kind == "subscribed":
            request = link.answered("subscribe", channel if isinstance(channel, str) else None)
            sub = request.sub if request is not None else None
            if sub is not None and self._subs.get(sub.channel) is sub:
                sub.subscribed(frame)
        elif kind == "unsubscribed":
            request = link.answered("unsubscribe", channel if isinstance(channel, str) else None)
            if request is not None:
                link.unsubscribing[request.channel] -= 1
                if link.unsubscribing[request.channel] <= 0:
                    del link.unsubscribing[request.channel]
        elif kind == "pong":
            request = link.answered("ping")
            if request is not None:
                request.answer()
        elif kind == "error":
            self._on_error(link, frame)
        elif kind != "connected":
            log.debug("ignoring a %r frame", kind)

    def _on_error(self, link: Link, frame: dict[str, Any]) -> None:
        code, message = str(frame.get("code")), str(frame.get("message"))
        request = link.answered(None)
        if request is None:
            log.warning("the server sent an error: %s: %s", code, message)
            return
        if request.kind == "ping":
            request.answer()  # any answer shows the server is alive
            return
        if code == ErrorCode.RATE_LIMITED:
            log.info(
                "the server rate-limited a %s of %s; re-sending it", request.kind, request.channel
            )
            asyncio.get_running_loop().call_later(
                RATE_LIMIT_RETRY, link.outgoing.put_nowait, request
            )
            return
        sub = request.sub
        if request.kind == "subscribe" and sub is not None:
            if self._subs.get(request.channel) is sub:
                del self._subs[request.channel]
                sub.fail(SubscriptionError(request.channel, code, message))
            return
        log.warning(
            "the server refused a %s of %s: %s: %s", request.kind, request.channel, code, message
        )
