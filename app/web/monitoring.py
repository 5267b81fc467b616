"""The monitoring JSON API under /api/monitoring/."""

from __future__ import annotations

from aiohttp import web

from app.web import keys
from app.web.errors import json_error

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
    seconds = _int_query(request, "seconds", settings.history_seconds, 1, settings.history_seconds)
    collector = request.app[keys.COLLECTOR]
    return web.json_response(
        {
            "interval_seconds": collector.interval,
            "samples": [sample.as_dict() for sample in collector.history_since(seconds)],
        }
    )


async def alerts(request: web.Request) -> web.Response:
    limit = _int_query(request, "limit", 20, 1, MAX_ALERTS_LIMIT)
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


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise json_error(400, f"'{name}' must be an integer", field=name) from None
    if not low <= value <= high:
        raise json_error(400, f"'{name}' must be between {low} and {high}", field=name)
    return value
