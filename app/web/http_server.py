"""The HTTP server livewatch runs on: aiohttp's, with a connection cap, JSON for the errors
aiohttp answers before any handler runs, and quiet logs for clients that just left.

aiohttp builds its protocol handler inside web.Server; the subclasses below change only
what they say they change. An application that mounts livewatch runs its own server and
keeps these protections to itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from http import HTTPStatus
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

log = logging.getLogger(__name__)

# Exceptions that only mean the peer went away, mid-handshake or mid-request.
PEER_LEFT = (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)


def json_response_bytes(status: int, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    reason = HTTPStatus(status).phrase
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


class GuardedRequestHandler(RequestHandler):
    _manager: GuardedServer

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        manager = self._manager
        if len(manager.connections) > manager.max_connections:
            manager.refused += 1
            log.warning(
                "refused a connection: %d open, the cap is %d (LIVEWATCH_MAX_CONNECTIONS)",
                len(manager.connections) - 1,
                manager.max_connections,
            )
            message = f"too many connections ({manager.max_connections}); try again later"
            writer = getattr(transport, "write", None)
            if writer is not None:
                writer(json_response_bytes(503, message))
            self.force_close()
            transport.close()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """What aiohttp answers itself (a malformed request line or header, a handler that
        raised): the same JSON shape as every other livewatch error."""
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        else:
            log.info("bad request from %s: %s", request.remote, message or exc)
        if request.writer.output_size > 0:
            raise ConnectionError("the answer had started; cannot send an error instead")
        text = (
            HTTPStatus(status).phrase if status >= 500 else (message or HTTPStatus(status).phrase)
        )
        response = web.json_response({"error": text}, status=status)
        response.force_close()
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        error = kw.get("exc_info")
        if isinstance(error, PEER_LEFT):
            log.debug("a client left mid-request: %s", error)
            return
        super().log_exception(*args, **kw)


class GuardedServer(web.Server):
    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.refused = 0

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(self, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.max_connections = max_connections

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            max_connections=self.max_connections,
            **plain._kwargs,
        )
