"""POST /api/alerts/alertmanager: Alertmanager's webhook receiver, authenticated like
publishing (the publish key as a Bearer token; loopback only in open mode)."""

from __future__ import annotations

from aiohttp import web

from app.hub.broker import BrokerUnavailable
from app.monitor.alertmanager import PayloadError, parse_notification
from app.web import keys
from app.web.body import read_json
from app.web.errors import json_error
from app.web.publish import authorize_publisher


async def receive(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    authorize_publisher(request, settings)
    body = await read_json(request, settings.max_publish_bytes)
    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        raise json_error(400, str(exc), exc.field) from None
    try:
        counts = await request.app[keys.ALERTMANAGER].receive(notification)
    except BrokerUnavailable as exc:
        # Alertmanager retries a failed notification.
        raise json_error(503, f"the alerts could not be announced: {exc}") from None
    return web.json_response({"alerts": len(notification.alerts), **counts})
