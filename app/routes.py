"""The whole URL table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from prometheus_client.aiohttp import make_aiohttp_handler

from app import keys, page, probes, publish_api
from app.hub.handler import websocket_handler
from app.monitor import views


def setup_routes(app: web.Application, static_dir: Path) -> None:
    app.add_routes(
        [
            web.get("/", page.dashboard, name="dashboard"),
            web.get("/api/monitoring/ws", websocket_handler, name="ws"),
            web.get("/api/monitoring/health", views.health),
            web.get("/api/monitoring/metrics", views.metrics),
            web.get("/api/monitoring/metrics/history", views.metrics_history),
            web.get("/api/monitoring/alerts", views.alerts),
            web.get("/api/monitoring/connections", views.connections),
            web.post("/api/events", publish_api.publish_event),
            web.get("/livez", probes.livez),
            web.get("/readyz", probes.readyz),
            web.get("/metrics", make_aiohttp_handler(app[keys.REGISTRY])),
            web.static("/static", static_dir, name="static"),
        ]
    )
