"""livewatch run the way an application that embeds it runs it, for the browser tests.

Its own system events (samples, alerts) are refused over HTTP, but the embedding
application may publish them through the Python API; this application does so at
POST /_test/emit, so a test can put any alert or sample on the page. POST /_test/sample
puts a host sample through the collector (the gauges, system.metric and the built-in alert
rules, which raise and resolve real alerts), with the fields given in place of the real
reading's.

Run it with the flags of `livewatch serve`: `python -m tests.embedded_server --port P ...`.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Any

from aiohttp import web

from app.cli import build_parser
from app.logs import RedactingAccessLogger, configure_logging
from app.server import create_app
from app.settings import load_settings, specs
from app.timeutil import now_rfc3339
from app.web import keys


async def emit(request: web.Request) -> web.Response:
    body: dict[str, Any] = await request.json()
    result = await request.app[keys.BROADCASTER].emit(
        body["event"], body["data"], **body.get("route", {})
    )
    return web.json_response(
        {"channels": result.channels, "recipients": result.recipients}, status=202
    )


async def sample(request: web.Request) -> web.Response:
    changes: dict[str, Any] = await request.json()
    collector = request.app[keys.COLLECTOR]
    taken = replace(await collector.latest(), **changes, timestamp=now_rfc3339())
    await collector.process(taken)
    return web.json_response(taken.as_dict(), status=202)


def main(argv: list[str]) -> None:
    args = build_parser().parse_args(["serve", *argv])
    settings = load_settings(
        overrides={
            item.name: getattr(args, item.name) for item, spec in specs() if not spec.env_only
        }
    )
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(settings)
    app.router.add_post("/_test/emit", emit)
    app.router.add_post("/_test/sample", sample)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log_class=RedactingAccessLogger,
        print=None,
    )


if __name__ == "__main__":
    main(sys.argv[1:])
