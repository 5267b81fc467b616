"""The whole URL table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from app.web import alert_actions, alertmanager, history, keys, monitoring, page, probes, publish
from app.web.scrape import scrape_handler
from app.web.static_files import static_handler
from app.web.websocket import websocket_handler


def setup_routes(app: web.Application, static_dir: Path) -> None:
    app.add_routes(
        [
            web.get("/", page.dashboard, name="dashboard"),
            web.get("/api/monitoring/ws", websocket_handler, name="ws"),
            web.get("/api/monitoring/health", monitoring.health),
            web.get("/api/monitoring/metrics", monitoring.metrics),
            web.get("/api/monitoring/metrics/history", monitoring.metrics_history),
            web.get("/api/monitoring/alerts", monitoring.alerts),
            web.post("/api/monitoring/alerts/{alert_id}/ack", alert_actions.acknowledge),
            web.get("/api/monitoring/silences", alert_actions.silences),
            web.post("/api/monitoring/silences", alert_actions.create_silence),
            web.delete("/api/monitoring/silences/{silence_id}", alert_actions.end_silence),
            web.get("/api/monitoring/connections", monitoring.connections),
            web.get("/api/monitoring/nodes", monitoring.nodes),
            web.post("/api/events", publish.publish_event),
            web.post("/api/alerts/alertmanager", alertmanager.receive),
            web.get("/api/channels/{channel}/history", history.channel_history),
            web.get("/livez", probes.livez),
            web.get("/readyz", probes.readyz),
            web.get("/metrics", scrape_handler(app[keys.REGISTRY])),
            web.get("/static/{path:.+}", static_handler(static_dir)),
        ]
    )
