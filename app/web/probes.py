"""/livez and /readyz for orchestrators."""

from __future__ import annotations

from aiohttp import web

from app.hub.broker import BrokerUnavailable
from app.monitor.alert_store import StoreFault
from app.web import keys


async def livez(request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    if request.app[keys.LIFECYCLE].shutting_down:
        return web.json_response({"status": "shutting down"}, status=503)
    try:
        await request.app[keys.STORE].check()  # a write, not a read: see the database check
    except StoreFault as exc:
        return web.json_response({"status": "not ready", "reason": f"database: {exc}"}, status=503)
    try:
        await request.app[keys.BROKER].ping()
    except BrokerUnavailable as exc:
        return web.json_response({"status": "not ready", "reason": f"broker: {exc}"}, status=503)
    return web.json_response({"status": "ready"})
