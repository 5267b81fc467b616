"""The livewatch command line: parses flags, nothing else."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence

from aiohttp import web

from app import __version__
from app.logs import ACCESS_LOG_FORMAT, configure_logging
from app.settings import PARSERS, Settings, SettingsError, env_name, load_settings

log = logging.getLogger("app")

FLAG_HELP = {
    "host": "address to bind (default 127.0.0.1)",
    "port": "TCP port (default 8080)",
    "collector_interval": "seconds between host samples (default 2)",
    "database_path": "SQLite file for the alert history (default var/livewatch.sqlite3)",
    "redis_url": "redis:// URL; registers the redis health check",
    "llm_health_url": "http(s) URL probed by the llm health check, e.g. Ollama's /api/tags",
    "log_format": "text or json (default text)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livewatch", description="Live events and host monitoring."
    )
    parser.add_argument("--version", action="version", version=f"livewatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    for name in PARSERS:
        default = Settings.__dataclass_fields__[name].default
        hint = FLAG_HELP.get(name, "" if default is dataclasses.MISSING else f"default {default}")
        serve.add_argument(
            "--" + name.replace("_", "-"),
            dest=name,
            metavar=name.split("_")[-1].upper(),
            help=f"{hint}; env {env_name(name)}".lstrip("; "),
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {name: getattr(args, name) for name in PARSERS}
    try:
        settings = load_settings(overrides=overrides)
    except SettingsError as exc:
        print(f"livewatch: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    return serve(settings)


def serve(settings: Settings) -> int:
    from app.server import create_app

    log.info("livewatch %s on http://%s:%d/", __version__, settings.host, settings.port)
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log_format=ACCESS_LOG_FORMAT,
        print=None,
    )
    return 0
