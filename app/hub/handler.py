"""GET /api/monitoring/ws: the WebSocket endpoint of wire protocol v1."""

from __future__ import annotations

import asyncio
import logging
import uuid

from aiohttp import WSMsgType, web

from app import keys
from app.http_errors import json_error
from app.hub import protocol
from app.hub.connection import Connection, Identity
from app.hub.protocol import ErrorCode, ProtocolError
from app.timeutil import now_rfc3339

log = logging.getLogger(__name__)

MAX_INBOUND_FRAME_BYTES = 64 * 1024


def identity_from_query(request: web.Request) -> Identity:
    """Open mode, as in the original plan: identity comes from the query string."""
    user_id = request.query.get("user_id") or None
    business_id = request.query.get("business_id") or None
    for name, value in (("user_id", user_id), ("business_id", business_id)):
        if value is not None and not protocol.is_valid_id(value):
            raise json_error(400, f"'{name}' must be 1-200 characters of A-Z a-z 0-9 . _ @ -", name)
    return Identity(user_id=user_id, business_ids=(business_id,) if business_id else ())


async def websocket_handler(request: web.Request) -> web.WebSocketResponse:
    settings = request.app[keys.SETTINGS]
    hub = request.app[keys.HUB]
    dispatcher = request.app[keys.DISPATCHER]
    identity = identity_from_query(request)

    ws = web.WebSocketResponse(
        heartbeat=settings.heartbeat,
        compress=False,
        max_msg_size=MAX_INBOUND_FRAME_BYTES,
        timeout=settings.shutdown_timeout,
    )
    await ws.prepare(request)
    transport = request.transport
    assert isinstance(transport, asyncio.Transport)
    conn = Connection(
        connection_id=uuid.uuid4().hex,
        ws=ws,
        transport=transport,
        identity=identity,
        remote=request.remote or "?",
    )
    hub.add(conn)
    channels = identity.auto_channels()
    log.info(
        "connection %s opened from %s: %s", conn.connection_id, conn.remote, ", ".join(channels)
    )
    try:
        hub.send(
            conn,
            protocol.frame(
                {
                    "type": "connected",
                    "connection_id": conn.connection_id,
                    "node": hub.node,
                    "channels": channels,
                    "timestamp": now_rfc3339(),
                }
            ),
        )
        for channel in channels:
            await hub.subscribe(conn, channel)
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                await dispatcher.handle_text(conn, msg.data)
            elif msg.type is WSMsgType.BINARY:
                error = ProtocolError(
                    ErrorCode.BAD_REQUEST, "binary frames are not part of the protocol"
                )
                hub.send(conn, protocol.error_frame(error))
    finally:
        await hub.remove(conn)
        log.info("connection %s closed (code %s)", conn.connection_id, ws.close_code)
    return ws
