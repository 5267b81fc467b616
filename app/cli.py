"""The livewatch command line: parses flags, nothing else."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from livewatch_client import commands as client_commands
from livewatch_client.client import DEFAULT_URL

from app import __version__
from app.auth.tokens import issue_token, parse_duration
from app.logs import configure_logging
from app.monitor.prometheus_rules import rule_file
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
    add_setting_flags(serve)
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
    add_tail(commands)
    add_publish(commands)
    rules = commands.add_parser(
        "rules",
        help="print the Prometheus alert rules for these settings",
        description="Write the Prometheus alerting rules (grafana/rules/livewatch-alerts.yml) "
        "from the settings livewatch serves with: the thresholds and hysteresis of its own "
        "rules, as LIVEWATCH_* variables or the same flags as `serve`.",
    )
    rules.add_argument("--out", metavar="FILE", help="write the rules here (default stdout)")
    add_setting_flags(rules)
    return parser


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """A flag per setting that is not a secret."""
    for item, spec in specs():
        if spec.env_only:
            continue
        help_text = f"{spec.help} (default {default_text(item)}; env {env_name(item.name)})"
        if spec.switch:
            parser.add_argument(
                flag_name(item.name),
                dest=item.name,
                action="store_const",
                const="true",
                help=help_text,
            )
        else:
            parser.add_argument(
                flag_name(item.name), dest=item.name, metavar=spec.parser.metavar, help=help_text
            )


def add_url(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("LIVEWATCH_URL") or DEFAULT_URL,
        help=f"the server (default env LIVEWATCH_URL, else {DEFAULT_URL})",
    )


def add_tail(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tail = commands.add_parser(
        "tail",
        help="print channels' events as JSON lines, across reconnects",
        description="Print each event of the channels as one JSON line on stdout. Keeps "
        "reconnecting through server restarts and network drops; events that could not be "
        "recovered are reported as a not_recovered JSON line on stderr. Ctrl-C ends it.",
    )
    tail.add_argument("channels", nargs="+", metavar="CHANNEL", help="e.g. business:acme")
    start = tail.add_mutually_exclusive_group()
    start.add_argument(
        "--since",
        type=non_negative,
        metavar="SEQ",
        help="first print the held events after this seq (from the history endpoint)",
    )
    start.add_argument(
        "--last", type=positive, metavar="N", help="first print the latest N held events"
    )
    tail.add_argument(
        "--token",
        default=os.environ.get("LIVEWATCH_TOKEN") or None,
        help="connection token in token mode (default env LIVEWATCH_TOKEN)",
    )
    add_url(tail)


def add_publish(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser(
        "publish",
        help="publish an event over HTTP and print the server's answer",
        description="Publish one event (POST /api/events, retried with one Idempotency-Key) "
        "and print the answer as JSON. The publish key comes from env LIVEWATCH_PUBLISH_KEY.",
    )
    publish.add_argument("event", metavar="EVENT", help="e.g. task.started")
    publish.add_argument(
        "--data", type=json_object, default={}, metavar="JSON", help="a JSON object (default {})"
    )
    route = publish.add_mutually_exclusive_group()
    route.add_argument("--business", metavar="ID", help="publish to business:ID")
    route.add_argument("--user", metavar="ID", help="publish to user:ID")
    route.add_argument("--channel", metavar="C", help="publish to this channel")
    add_url(publish)


def json_object(raw: str) -> dict[str, object]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError('must be a JSON object, such as \'{"task_id": "t1"}\'')
    return value


def non_negative(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit():
        raise argparse.ArgumentTypeError("must be an integer >= 0")
    return int(raw)


def positive(raw: str) -> int:
    value = non_negative(raw)
    if value < 1:
        raise argparse.ArgumentTypeError("must be an integer >= 1")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "token":
        return print_token(args.user, args.business, args.ttl, args.channel, args.admin)
    if args.command == "tail":
        return asyncio.run(
            client_commands.tail(
                args.url,
                args.channels,
                token=args.token,
                since=args.since,
                last=args.last,
                out=sys.stdout,
                err=sys.stderr,
            )
        )
    if args.command == "publish":
        return asyncio.run(
            client_commands.publish(
                args.url,
                args.event,
                args.data,
                publish_key=os.environ.get(env_name("publish_key")) or None,
                business_id=args.business,
                user_id=args.user,
                channel=args.channel,
                out=sys.stdout,
                err=sys.stderr,
            )
        )
    overrides = {item.name: getattr(args, item.name) for item, spec in specs() if not spec.env_only}
    try:
        settings = load_settings(overrides=overrides)
    except SettingsError as exc:
        print(f"livewatch: bad setting: {exc}", file=sys.stderr)
        return 2
    if args.command == "rules":
        return write_rules(settings, args.out)
    configure_logging(settings.log_format, settings.log_level)
    return serve(settings)


def write_rules(settings: Settings, out: str | None) -> int:
    text = rule_file(settings)
    if out is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(out).write_text(text)
    except OSError as exc:
        print(f"livewatch: cannot write {out}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


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
    from app.server import run

    log.info("livewatch %s on http://%s:%d/", __version__, settings.host, settings.port)
    if settings.open_mode:
        log.warning(
            "OPEN MODE: no %s is set, so anyone who can reach %s:%d may connect as any user "
            "and read any channel. Fine on a developer machine; set a secret for anything else.",
            env_name("secret"),
            settings.host,
            settings.port,
        )
    run(settings)
    return 0
