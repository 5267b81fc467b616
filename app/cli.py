"""The livewatch command line: parses flags, nothing else."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from aiohttp import web

from app import __version__
from app.auth.tokens import issue_token, parse_duration
from app.logs import RedactingAccessLogger, configure_logging
from app.settings import (
    Settings,
    SettingsError,
    check_secret,
    default_text,
    env_name,
    flag_name,
    load_settings,
    specs,
)

log = logging.getLogger("app")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="livewatch", description="Live events and host monitoring."
    )
    parser.add_argument("--version", action="version", version=f"livewatch {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the service",
        description="Run the service. Every flag is also an environment variable; flags win.",
        epilog="Secrets are read from the environment only, never from flags (which show in "
        + "`ps`): "
        + "; ".join(
            f"{env_name(item.name)}: {spec.help}" for item, spec in specs() if spec.env_only
        )
        + ".",
    )
    for item, spec in specs():
        if spec.env_only:
            continue
        help_text = f"{spec.help} (default {default_text(item)}; env {env_name(item.name)})"
        if spec.switch:
            serve.add_argument(
                flag_name(item.name),
                dest=item.name,
                action="store_const",
                const="true",
                help=help_text,
            )
        else:
            serve.add_argument(
                flag_name(item.name), dest=item.name, metavar=spec.parser.metavar, help=help_text
            )
    token = commands.add_parser(
        "token", help="print a signed connection token (needs LIVEWATCH_SECRET in the environment)"
    )
    token.add_argument("--user", required=True, help="user id the token identifies")
    token.add_argument(
        "--business", action="append", default=[], help="business id it may read (repeatable)"
    )
    token.add_argument(
        "--channel",
        action="append",
        default=[],
        help="a further channel it may read, or kind:* for every channel of a kind (repeatable)",
    )
    token.add_argument(
        "--admin",
        action="store_true",
        help="may read every channel and every figure of the JSON API",
    )
    token.add_argument("--ttl", default="1h", help="lifetime: 90s, 15m, 1h, 7d (default 1h)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "token":
        return print_token(args.user, args.business, args.ttl, args.channel, args.admin)
    overrides = {item.name: getattr(args, item.name) for item, spec in specs() if not spec.env_only}
    try:
        settings = load_settings(overrides=overrides)
    except SettingsError as exc:
        print(f"livewatch: bad setting: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    return serve(settings)


def print_token(
    user: str, businesses: list[str], ttl: str, channels: list[str], admin: bool
) -> int:
    secret = os.environ.get(env_name("secret"))
    try:
        if not secret:
            raise SettingsError(f"{env_name('secret')} is not set; tokens are signed with it")
        check_secret("secret", secret)
    except SettingsError as exc:
        print(f"livewatch: bad setting: {exc}", file=sys.stderr)
        return 2
    try:
        print(issue_token(secret, user, businesses, parse_duration(ttl), channels, admin))
    except ValueError as exc:
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
