"""GET /api/monitoring/ws: the WebSocket endpoint of wire protocol v1 (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import cast

from aiohttp import WSCloseCode, WSMsgType, web
from livewatch_client.codes import ErrorCode

from app.auth.origin import origin_allowed
from app.hub import protocol
from app.hub.broker import BrokerUnavailable
from app.hub.connection import Connection, SocketTransport
from app.hub.hub import Hub
from app.hub.limits import TokenBucket
from app.hub.protocol import ProtocolError
from app.settings import Settings
from app.timeutil import now_rfc3339
from app.web import keys
from app.web.errors import json_error
from app.web.identity import authenticate

log = logging.getLogger(__name__)


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[keys.SETTINGS]
    hub = request.app[keys.HUB]
    if not origin_allowed(request.headers.get("Origin"), default_origins(settings, request)):
        log.warning(
            "refused a WebSocket from %s: origin %s is not allowed",
            request.remote,
            request.headers.get("Origin"),
        )
        raise json_error(403, "this Origin may not open a WebSocket here")
    identity = authenticate(request, settings)
    auto_subscribe = query_flag(request, "auto_subscribe", default=True)
    channels = identity.auto_channels()
    if auto_subscribe and len(channels) > settings.max_subscriptions:
        raise json_error(
            400,
            f"this identity has {len(channels)} channels of its own, more than the "
            f"{settings.max_subscriptions} subscriptions a connection may hold; connect with "
            "auto_subscribe=false and subscribe to the ones you need",
            "auto_subscribe",
        )

    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat,
        compress=False,
        # aiohttp refuses a message of exactly max_msg_size; the limit is a largest size.
        max_msg_size=settings.max_frame_bytes + 1,
        timeout=settings.shutdown_timeout,
    )
    try:
        await ws.prepare(request)
    except web.HTTPException as exc:  # not a WebSocket handshake
        raise json_error(exc.status, handshake_refusal(exc)) from None
    user = identity.user_id
    if user is not None and hub.per_user[user] >= settings.max_connections_per_user:
        log.warning("refused a connection for user %s: %d already open", user, hub.per_user[user])
        await ws.close(
            code=WSCloseCode.POLICY_VIOLATION,
            message=f"at most {settings.max_connections_per_user} connections per user".encode(),
        )
        return ws

    transport = cast(SocketTransport | None, request.transport)
    if transport is None:  # the peer left during the handshake
        return ws
    conn = Connection(
        connection_id=uuid.uuid4().hex,
        ws=ws,
        transport=transport,
        identity=identity,
        remote=request.remote or "?",
    )
    hub.add(conn)
    expiry = schedule_expiry(hub, conn)
    # One line per connection is a flood in a reconnect storm; the figures are in /metrics.
    log.debug(
        "connection %s opened from %s: %s", conn.connection_id, conn.remote, ", ".join(channels)
    )
    try:
        hello = welcome(conn, hub, channels, auto_subscribe)
        if not auto_subscribe:
            hub.send(conn, hello)
        else:
            try:
                await hub.open(conn, hello, channels)
            except BrokerUnavailable as exc:
                log.warning(
                    "connection %s: cannot subscribe its channels: %s", conn.connection_id, exc
                )
                await hub.close(conn, WSCloseCode.TRY_AGAIN_LATER, b"broker unavailable")
                return ws
        await receive_loop(request, conn, TokenBucket(settings.rate_limit, settings.rate_burst))
    finally:
        if expiry is not None:
            expiry.cancel()
        await hub.remove(conn)
        log.debug("connection %s closed (code %s)", conn.connection_id, ws.close_code)
    return ws


def query_flag(request: web.Request, name: str, default: bool) -> bool:
    raw = request.query.get(name)
    if raw is None:
        return default
    if raw in ("1", "true"):
        return True
    if raw in ("0", "false"):
        return False
    raise json_error(400, f"'{name}' must be true or false", name)


def welcome(conn: Connection, hub: Hub, channels: list[str], auto_subscribed: bool) -> bytes:
    return protocol.frame(
        {
            "type": "connected",
            "connection_id": conn.connection_id,
            "node": hub.node,
            "epoch": hub.boot_id,
            "channels": channels,
            "auto_subscribed": auto_subscribed,
            "timestamp": now_rfc3339(),
        }
    )


def schedule_expiry(hub: Hub, conn: Connection) -> asyncio.TimerHandle | None:
    """Close the connection with 1008 the moment its token expires."""
    expires_at = conn.identity.expires_at
    if expires_at is None:
        return None
    loop = asyncio.get_running_loop()

    def expire() -> None:
        log.info("connection %s: token expired", conn.connection_id)
        task = loop.create_task(hub.close(conn, WSCloseCode.POLICY_VIOLATION, b"token expired"))
        hub.track(task)

    return loop.call_later(max(0.0, expires_at - time.time()), expire)


async def receive_loop(request: web.Request, conn: Connection, bucket: TokenBucket) -> None:
    hub = request.app[keys.HUB]
    dispatcher = request.app[keys.DISPATCHER]
    async for msg in conn.ws:
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            continue
        if not bucket.take():
            if bucket.refused_in_a_row > bucket.burst:
                log.warning("connection %s kept flooding; closing it", conn.connection_id)
                await hub.close(conn, WSCloseCode.POLICY_VIOLATION, b"rate limit exceeded")
                return
            error = ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"more than {bucket.rate:g} messages per second; slow down or be disconnected",
            )
            hub.send(conn, protocol.error_frame(error))
        elif msg.type is WSMsgType.TEXT:
            await dispatcher.handle_text(conn, msg.data)
        else:
            error = ProtocolError(
                ErrorCode.BAD_REQUEST, "binary frames are not part of the protocol"
            )
            hub.send(conn, protocol.error_frame(error))


def handshake_refusal(error: web.HTTPException) -> str:
    reason = (error.text or "").removeprefix(f"{error.status}: ").split("\n")[0]
    return f"not a WebSocket handshake ({reason or error.reason}); see docs/protocol.md"


def default_origins(settings: Settings, request: web.Request) -> tuple[str, ...]:
    """The origins a browser may open a WebSocket from when none are configured: in open
    mode the host the request names (local, see guards.refuse_foreign_host); with a secret, only
    what the settings say livewatch serves, never what the request claims."""
    if settings.allowed_origins:
        return settings.allowed_origins
    if settings.open_mode:
        return (f"{request.scheme}://{request.host}",)
    hosts = [settings.host]
    if settings.is_loopback:
        hosts += ["localhost", "127.0.0.1", "[::1]"]
    return tuple(f"http://{host}:{settings.port}" for host in hosts)
