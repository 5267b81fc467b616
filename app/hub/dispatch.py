"""Client messages: the built-in types and a registry for application types."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from app.hub import protocol
from app.hub.connection import Connection
from app.hub.hub import Hub
from app.hub.protocol import ClientMessage, ErrorCode, ProtocolError
from app.timeutil import now_rfc3339

log = logging.getLogger(__name__)

MessageHandler = Callable[[Connection, dict[str, Any]], Awaitable[None]]


class Dispatcher:
    """Routes each parsed client message to its handler; bad input becomes an error frame."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._handlers: dict[str, MessageHandler] = {}

    def register_handler(self, message_type: str, handler: MessageHandler) -> None:
        if message_type in ("ping", "subscribe", "unsubscribe"):
            raise ValueError(f"'{message_type}' is a built-in message type")
        self._handlers[message_type] = handler

    async def handle_text(self, conn: Connection, raw: str) -> None:
        try:
            message = protocol.parse_client_message(raw)
            await self._dispatch(conn, message)
        except ProtocolError as error:
            self.hub.send(conn, protocol.error_frame(error))

    async def _dispatch(self, conn: Connection, message: ClientMessage) -> None:
        if message.type == "ping":
            self.hub.send(conn, protocol.frame({"type": "pong", "timestamp": now_rfc3339()}))
        elif message.type == "subscribe":
            channel = message.channel()
            await self.hub.subscribe(conn, channel)
            seq = await self.hub.broker.last_seq(channel)
            self.hub.send(
                conn, protocol.frame({"type": "subscribed", "channel": channel, "seq": seq})
            )
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
