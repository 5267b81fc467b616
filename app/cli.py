"""The livewatch command line: parses flags, nothing else."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from app import __version__
from app.auth.tokens import issue_token, parse_duration
from app.logs import RedactingAccessLogger, configure_logging
from app.settings import (
    BOOLEAN_FLAGS,
    ENV_ONLY,
    PARSERS,
    Settings,
    SettingsError,
    env_name,
    load_settings,
)

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
        if name in ENV_ONLY:
            continue
        default = Settings.__dataclass_fields__[name].default
        hint = FLAG_HELP.get(name, "" if default is dataclasses.MISSING else f"default {default}")
        help_text = f"{hint}; env {env_name(name)}".lstrip("; ")
        flag = "--" + name.replace("_", "-")
        if name in BOOLEAN_FLAGS:
            serve.add_argument(flag, dest=name, action="store_const", const="true", help=help_text)
        else:
            serve.add_argument(flag, dest=name, metavar=name.split("_")[-1].upper(), help=help_text)
    token = commands.add_parser(
        "token", help="print a signed connection token (needs LIVEWATCH_SECRET in the environment)"
    )
    token.add_argument("--user", required=True, help="user id the token identifies")
    token.add_argument(
        "--business", action="append", default=[], help="business id it may read (repeatable)"
    )
    token.add_argument("--ttl", default="1h", help="lifetime: 90s, 15m, 1h, 7d (default 1h)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "token":
        return print_token(args.user, args.business, args.ttl)
    overrides = {name: getattr(args, name) for name in PARSERS if name not in ENV_ONLY}
    try:
        settings = load_settings(overrides=overrides)
    except SettingsError as exc:
        print(f"livewatch: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    return serve(settings)


def print_token(user: str, businesses: list[str], ttl: str) -> int:
    secret = os.environ.get(env_name("secret"))
    try:
        if not secret:
            raise SettingsError(f"{env_name('secret')} is not set; tokens are signed with it")
        lifetime = parse_duration(ttl)
        print(issue_token(secret, user, businesses, lifetime))
    except (SettingsError, ValueError) as exc:
        print(f"livewatch: {exc}", file=sys.stderr)
        return 2
    return 0


def serve(settings: Settings) -> int:
    from app.server import create_app

    log.info("livewatch %s on http://%s:%d/", __version__, settings.host, settings.port)
    if settings.open_mode:
        log.warning(
            "OPEN MODE: no %s is set, so anyone who can reach %s:%d may connect as any user "
            "and read any channel. Fine on a developer machine; set a secret for anything else.",
            env_name("secret"),
            settings.host,
            settings.port,
        )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_timeout,
        access_log_class=RedactingAccessLogger,
        print=None,
    )
    return 0
