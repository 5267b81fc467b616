"""GET /: the live page, with everything it must agree with the server on in its config."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from app import __version__
from app.hub.events import catalogue
from app.settings import THRESHOLD_RULES, Settings
from app.web import keys


def page_config(settings: Settings) -> dict[str, Any]:
    return {
        "version": __version__,
        "auth": "open" if settings.open_mode else "token",
        "history_seconds": settings.history_seconds,
        "collector_interval": settings.collector_interval,
        "cluster_heartbeat": settings.cluster_heartbeat,
        "thresholds": {
            rule: {"warning": limits.warning, "critical": limits.critical}
            for rule in THRESHOLD_RULES
            for limits in [settings.threshold(rule)]
        },
        "events": catalogue(),
    }


@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict[str, Any]:
    config = page_config(request.app[keys.SETTINGS])
    # The checks this node runs, so the page lays out their rows before the first answer.
    config["health_checks"] = request.app[keys.HEALTH].names()
    return {"config": config}
