"""Client messages: validated against the protocol, then the built-in types or a registry
of application types."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from livewatch_client.codes import ErrorCode

from app.auth.permissions import may_read
from app.hub import protocol
from app.hub.broker import BrokerUnavailable
from app.hub.connection import Connection
from app.hub.hub import Hub
from app.hub.protocol import ClientMessage, ProtocolError
from app.timeutil import now_rfc3339

log = logging.getLogger(__name__)

MessageHandler = Callable[[Connection, dict[str, Any]], Awaitable[None]]

# The fields each built-in message may carry; anything else is a bad request.
BUILT_IN_FIELDS: dict[str, frozenset[str]] = {
    "ping": frozenset({"type"}),
    "subscribe": frozenset({"type", "channel", "since"}),
    "unsubscribe": frozenset({"type", "channel"}),
}


class Dispatcher:
    """Routes each parsed client message to its handler; bad input becomes an error frame."""

    def __init__(self, hub: Hub, open_mode: bool, max_subscriptions: int) -> None:
        self.hub = hub
        self.open_mode = open_mode
        self.max_subscriptions = max_subscriptions
        self._handlers: dict[str, MessageHandler] = {}

    def register_handler(self, message_type: str, handler: MessageHandler) -> None:
        if message_type in BUILT_IN_FIELDS:
            raise ValueError(f"'{message_type}' is a built-in message type")
        self._handlers[message_type] = handler

    async def handle_text(self, conn: Connection, raw: str) -> None:
        try:
            message = protocol.parse_client_message(raw)
            await self._dispatch(conn, message)
        except ProtocolError as error:
            self.hub.send(conn, protocol.error_frame(error))

    async def _dispatch(self, conn: Connection, message: ClientMessage) -> None:
        allowed = BUILT_IN_FIELDS.get(message.type)
        if allowed is not None:
            extra = sorted(set(message.body) - allowed)
            if extra:
                raise ProtocolError(
                    ErrorCode.BAD_REQUEST,
                    f"'{message.type}' does not take '{extra[0]}'",
                    message.type,
                )
        if message.type == "ping":
            self.hub.send(conn, protocol.frame({"type": "pong", "timestamp": now_rfc3339()}))
        elif message.type == "subscribe":
            await self._subscribe(conn, message)
        elif message.type == "unsubscribe":
            channel = message.channel()
            await self.hub.unsubscribe(conn, channel)
            self.hub.send(conn, protocol.frame({"type": "unsubscribed", "channel": channel}))
        elif (handler := self._handlers.get(message.type)) is not None:
            await self._run_handler(handler, conn, message)
        else:
            raise ProtocolError(
                ErrorCode.UNKNOWN_TYPE, f"unknown message type '{message.type}'", message.type
            )

    async def _subscribe(self, conn: Connection, message: ClientMessage) -> None:
        channel = message.channel()
        if not may_read(conn.identity, channel, self.open_mode):
            log.info("connection %s may not read %s", conn.connection_id, channel)
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"not allowed to subscribe to '{channel}'", message.type
            )
        if channel not in conn.channels and len(conn.channels) >= self.max_subscriptions:
            raise ProtocolError(
                ErrorCode.TOO_LARGE,
                f"a connection may hold at most {self.max_subscriptions} subscriptions",
                message.type,
            )
        since = message.since()
        if since is not None and channel in conn.channels:
            raise ProtocolError(
                ErrorCode.BAD_REQUEST,
                f"already subscribed to '{channel}': its events are flowing, so there is nothing "
                "to recover; connect with auto_subscribe=false to recover your own channels",
                message.type,
            )
        try:
            subscription = await self.hub.subscribe(conn, channel, since)
        except BrokerUnavailable as exc:
            raise ProtocolError(
                ErrorCode.UNAVAILABLE,
                f"cannot subscribe to '{channel}' right now ({exc}); try again shortly",
                message.type,
            ) from None
        if subscription.reason is not None:
            log.info(
                "connection %s: %s not recovered (%s)",
                conn.connection_id,
                channel,
                subscription.reason,
            )

    async def _run_handler(
        self, handler: MessageHandler, conn: Connection, message: ClientMessage
    ) -> None:
        try:
            await handler(conn, message.body)
        except ProtocolError:
            raise
        except Exception:
            log.exception("handler for '%s' failed on %s", message.type, conn.connection_id)
            raise ProtocolError(
                ErrorCode.INTERNAL_ERROR,
                f"the handler for '{message.type}' failed; the server logged why",
                message.type,
            ) from None
