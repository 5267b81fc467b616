"""The monitoring JSON API under /api/monitoring/."""

from __future__ import annotations

from aiohttp import web

from app.web import keys
from app.web.query import int_query

MAX_ALERTS_LIMIT = 1000


async def health(request: web.Request) -> web.Response:
    report = await request.app[keys.HEALTH_WATCH].check()
    status = 503 if report.status == "unhealthy" else 200
    return web.json_response(report.as_dict(), status=status)


async def metrics(request: web.Request) -> web.Response:
    sample = await request.app[keys.COLLECTOR].latest()
    return web.json_response(sample.as_dict())


async def metrics_history(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    seconds = int_query(request, "seconds", settings.history_seconds, 1, settings.history_seconds)
    collector = request.app[keys.COLLECTOR]
    return web.json_response(
        {
            "interval_seconds": collector.interval,
            "samples": [sample.as_dict() for sample in collector.history_since(seconds)],
        }
    )


async def alerts(request: web.Request) -> web.Response:
    limit = int_query(request, "limit", 20, 1, MAX_ALERTS_LIMIT)
    store = request.app[keys.STORE]
    engine = request.app[keys.ALERTS]
    recent = await store.recent(limit)
    return web.json_response(
        {
            "alerts": [record.as_dict() for record in recent],
            "active": [record.as_dict() for record in engine.active.values()],
        }
    )


async def connections(request: web.Request) -> web.Response:
    return web.json_response(request.app[keys.HUB].stats())
