"""Client: the entry point. One HTTP session, one WebSocket shared by every subscription."""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import aiohttp

from livewatch_client.api import Api, endpoint
from livewatch_client.backoff import Backoff
from livewatch_client.connection import Connection, Tuning
from livewatch_client.events import History, Published
from livewatch_client.subscription import Subscription

DEFAULT_URL = "http://127.0.0.1:8080"


class Client:
    """A livewatch client. Use it as an async context manager::

        async with Client("http://127.0.0.1:8080") as client:
            async with client.subscribe("business:acme") as sub:
                async for event in sub:
                    ...
            await client.publish("task.started", {"task_id": "t1"}, business_id="acme")

    `token` is the signed connection token of a server in token mode (sent as `?token=` on
    the WebSocket, as a bearer token to the history endpoint); `publish_key` the server's
    LIVEWATCH_PUBLISH_KEY, sent as a bearer token when publishing.

    Reconnects and publish retries wait `random(0, min(max_delay, min_delay * 2**n))`
    before the n-th retry. The client sends a `ping` frame every `ping_interval` seconds
    and drops a connection whose `pong` is `ping_timeout` late; `heartbeat` is aiohttp's
    WebSocket-level ping interval (None turns it off). `connect_timeout` bounds one
    connection attempt (the handshake and the `connected` frame), `request_timeout` one
    HTTP request; a publish or history read makes up to `attempts` of them.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        publish_key: str | None = None,
        session: aiohttp.ClientSession | None = None,
        min_delay: float = 0.1,
        max_delay: float = 5.0,
        ping_interval: float = 15.0,
        ping_timeout: float = 10.0,
        heartbeat: float | None = 30.0,
        connect_timeout: float = 10.0,
        request_timeout: float = 10.0,
        attempts: int = 5,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        for name, value in (
            ("ping_interval", ping_interval),
            ("ping_timeout", ping_timeout),
            ("connect_timeout", connect_timeout),
            ("request_timeout", request_timeout),
        ):
            if not value > 0:
                raise ValueError(f"{name} must be positive")
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.url = url
        self.backoff = Backoff(min_delay, max_delay)
        self._token = token
        self._publish_key = publish_key
        self._given_session = session
        self._tuning = Tuning(
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            heartbeat=heartbeat,
            connect_timeout=connect_timeout,
        )
        self._request_timeout = request_timeout
        self._attempts = attempts
        self._session: aiohttp.ClientSession | None = None
        self._api: Api | None = None
        self._connection: Connection | None = None

    async def __aenter__(self) -> Client:
        if self._session is not None:
            raise RuntimeError("this client is already open")
        session = self._session = self._given_session or aiohttp.ClientSession()
        self._api = Api(
            session,
            self.url,
            self.backoff,
            token=self._token,
            publish_key=self._publish_key,
            attempts=self._attempts,
            timeout=self._request_timeout,
        )
        query = {"auto_subscribe": "false"}
        if self._token:
            query["token"] = self._token
        ws_url = endpoint(self.url, "api", "monitoring", "ws") + "?" + urlencode(query)
        self._connection = Connection(session, ws_url, self.backoff, self._tuning)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """End every subscription's iteration, close the WebSocket and the HTTP session
        (unless it was given)."""
        if self._connection is not None:
            await self._connection.close()
        if self._session is not None and self._given_session is None:
            await self._session.close()

    def _parts(self) -> tuple[Api, Connection]:
        if self._api is None or self._connection is None:
            raise RuntimeError("use the client as `async with Client(...) as client`")
        return self._api, self._connection

    def subscribe(
        self,
        channel: str,
        *,
        since: int | tuple[int, str] | None = None,
        last: int | None = None,
        history_limit: int | None = None,
    ) -> Subscription:
        """A subscription to one channel, to use with `async with`.

        Where it starts:

        - nothing given: with the events published after it is entered;
        - `since=(seq, epoch)`: after that position (a `Position` from an earlier run),
          recovered over the WebSocket; if it cannot be, iteration first raises NotRecovered;
        - `since=seq`: after that seq of the channel's current stream, read from the
          history endpoint (in pages of `history_limit`, the server's default if None);
        - `last=n`: the latest n events the history holds, then on.
        """
        api, connection = self._parts()
        return Subscription(
            connection, api, channel, since=since, last=last, history_limit=history_limit
        )

    async def publish(
        self,
        event: str,
        data: Mapping[str, Any],
        *,
        channel: str | None = None,
        business_id: str | None = None,
        user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Published:
        """Publish an event over HTTP. One Idempotency-Key (a fresh uuid4 unless given) is
        sent with every attempt, so retries publish it once. Raises RequestError on a 4xx
        answer and Unavailable when every attempt failed."""
        api, _ = self._parts()
        return await api.publish(
            event,
            data,
            channel=channel,
            business_id=business_id,
            user_id=user_id,
            idempotency_key=idempotency_key,
        )

    async def history(
        self, channel: str, *, since: int | None = None, limit: int | None = None
    ) -> History:
        """One read of a channel's history: the events after `since`, or the latest
        `limit` (the server's default: 50)."""
        api, _ = self._parts()
        return await api.history(channel, since, limit)

    @property
    def connects(self) -> int:
        """How many times the WebSocket was connected (reconnects included)."""
        return 0 if self._connection is None else self._connection.connects

    @property
    def server_epoch(self) -> str | None:
        """The epoch of the server process this client last connected to."""
        return None if self._connection is None else self._connection.server_epoch
