"""GET /: the live page."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from app import __version__, keys


@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict[str, Any]:
    settings = request.app[keys.SETTINGS]
    return {
        "config": {
            "thresholds": {
                rule: {"warning": limits.warning, "critical": limits.critical}
                for rule in ("cpu", "memory", "disk")
                for limits in [settings.threshold(rule)]
            },
            "history_seconds": settings.history_seconds,
            "collector_interval": settings.collector_interval,
            "version": __version__,
        }
    }
