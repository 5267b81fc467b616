"""Middlewares every request passes: JSON errors everywhere, and the Host allowlist of
open mode (docs/protocol.md, Connecting)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiohttp import web
from aiohttp.typedefs import Handler

from app.auth.origin import host_allowed, host_name
from app.settings import env_name
from app.web import keys
from app.web.errors import json_error
from app.web.websocket import websocket_handler

log = logging.getLogger(__name__)


@web.middleware
def guard(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """Every request passes here first: the Host allowlist of open mode, then JSON for
    aiohttp's own errors (404, 405, 413, ...), in the shape of livewatch's.

    A plain function, not a coroutine: a middleware that awaits its handler keeps its frame
    for as long as the handler runs, and the WebSocket handler runs for the life of its
    socket. So the checks come before the handler starts, and only the other, short
    requests are wrapped; the WebSocket handler answers its own errors in JSON."""
    refuse_foreign_host(request)
    match = request.match_info
    if match.http_exception is not None:  # no such route, or not with this method
        raise as_json(match.http_exception)
    if match.handler is websocket_handler:
        return handler(request)
    return json_errors(request, handler)


async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        raise as_json(exc) from None


def as_json(error: web.HTTPException) -> web.HTTPException:
    headers = {name: value for name, value in error.headers.items() if name == "Allow"}
    return json_error(error.status, error.reason, headers=headers)


def refuse_foreign_host(request: web.Request) -> None:
    """In open mode anyone who can reach the port is trusted, so only requests addressed
    to this machine by a local name are served: a page whose domain was re-pointed at
    127.0.0.1 still sends its own name as Host, and is refused."""
    settings = request.app[keys.SETTINGS]
    if settings.open_mode and not host_allowed(request.host, settings.allowed_hosts):
        log.warning("refused a request for Host %r from %s", request.host, request.remote)
        raise json_error(
            403,
            f"Host '{host_name(request.host)}' is not a name of this machine: in open mode "
            f"livewatch answers localhost and loopback addresses only "
            f"({env_name('allowed_hosts')} adds names)",
        )
