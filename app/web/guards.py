"""Middlewares every request passes: JSON errors everywhere, and the Host allowlist of
open mode (docs/protocol.md, Connecting)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from app.auth.origin import host_allowed, host_name
from app.settings import Settings, env_name
from app.web import keys
from app.web.errors import json_error

log = logging.getLogger(__name__)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, 413, ...) get the same JSON shape as livewatch's."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        headers = {name: value for name, value in exc.headers.items() if name == "Allow"}
        raise json_error(exc.status, exc.reason, headers=headers) from None


@web.middleware
async def local_hosts_only(request: web.Request, handler: Handler) -> web.StreamResponse:
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
    return await handler(request)


def default_origins(settings: Settings, request: web.Request) -> tuple[str, ...]:
    """The origins a browser may open a WebSocket from when none are configured: in open
    mode the host the request names (local, see local_hosts_only); with a secret, only
    what the settings say livewatch serves, never what the request claims."""
    if settings.allowed_origins:
        return settings.allowed_origins
    if settings.open_mode:
        return (f"{request.scheme}://{request.host}",)
    hosts = [settings.host]
    if settings.is_loopback:
        hosts += ["localhost", "127.0.0.1", "[::1]"]
    return tuple(f"http://{host}:{settings.port}" for host in hosts)
