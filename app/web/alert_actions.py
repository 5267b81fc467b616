"""Acknowledging alerts and silencing them, under /api/monitoring/.

In open mode the body says who acts (`by`); with a secret a token is required (Bearer or
?token=) and its user is the one recorded, so `by` is refused.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Any

from aiohttp import web

from app.auth.identity import Identity
from app.hub.broker import BrokerUnavailable
from app.monitor.alert_board import (
    AlertNotFiring,
    SilenceNotActive,
    UnknownAlert,
    UnknownSilence,
)
from app.monitor.silences import MatcherError, check_until, parse_matchers
from app.web import keys
from app.web.body import read_json
from app.web.errors import json_error
from app.web.identity import require_reader

BODY_LIMIT = 16 * 1024
MAX_NAME = 100
MAX_COMMENT = 1000
ANONYMOUS = "anonymous"


def acting_identity(request: web.Request) -> Identity | None:
    """None in open mode; with a secret, the token's holder (401 without a valid one)."""
    if request.app[keys.SETTINGS].secret is None:
        return None
    return require_reader(request)


async def action_body(request: web.Request, allowed: set[str]) -> dict[str, Any]:
    body = await read_json(request, BODY_LIMIT, empty={})
    if not isinstance(body, dict):
        raise json_error(400, "body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise json_error(400, f"unknown field '{unknown[0]}'", unknown[0])
    return body


def text_field(body: dict[str, Any], name: str, limit: int, required: bool = False) -> str:
    value = body.get(name)
    if value is None:
        if required:
            raise json_error(400, f"'{name}' is required", name)
        return ""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > limit
        or any(unicodedata.category(char) == "Cc" for char in value if char != "\n")
    ):
        raise json_error(400, f"'{name}' must be text of 1-{limit} characters", name)
    return value.strip()


def actor(identity: Identity | None, body: dict[str, Any]) -> str:
    """Who acknowledges or silences: the token's user, or in open mode `by`."""
    if identity is None:
        return text_field(body, "by", MAX_NAME, required=True)
    if "by" in body:
        raise json_error(
            400, "'by' is not accepted here: the name comes from the signed token", "by"
        )
    return identity.user_id or ANONYMOUS


async def acknowledge(request: web.Request) -> web.Response:
    """POST /api/monitoring/alerts/{alert_id}/ack {by, comment}."""
    identity = acting_identity(request)
    body = await action_body(request, {"by", "comment"})
    by = actor(identity, body)
    comment = text_field(body, "comment", MAX_COMMENT)
    alert_id = request.match_info["alert_id"]
    try:
        view = await request.app[keys.ALERT_BOARD].acknowledge(alert_id, by, comment)
    except UnknownAlert:
        raise json_error(404, f"no alert has the id '{alert_id}'") from None
    except AlertNotFiring:
        raise json_error(409, f"alert '{alert_id}' is resolved: nothing to acknowledge") from None
    except BrokerUnavailable as exc:
        raise json_error(503, f"acknowledged, but not announced: {exc}") from None
    return web.json_response(view)


def until_field(body: dict[str, Any], now: datetime) -> datetime:
    raw = body.get("until")
    if raw is None:
        raise json_error(400, "'until' is required: when the silence ends (RFC 3339)", "until")
    try:
        until = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        until = None
    if until is None or until.tzinfo is None:
        raise json_error(
            400, "'until' must be an RFC 3339 time with a zone, e.g. 2030-01-01T12:00:00Z", "until"
        )
    problem = check_until(until, now)
    if problem is not None:
        raise json_error(400, problem, "until")
    return until


async def create_silence(request: web.Request) -> web.Response:
    """POST /api/monitoring/silences {matchers, until, by, comment}: 201, with the alerts
    firing now that it matches and how many (none is allowed)."""
    identity = acting_identity(request)
    body = await action_body(request, {"matchers", "until", "by", "comment"})
    by = actor(identity, body)
    if "matchers" not in body:
        raise json_error(400, "'matchers' is required", "matchers")
    try:
        matchers = parse_matchers(body["matchers"])
    except MatcherError as exc:
        raise json_error(400, str(exc), exc.field) from None
    board = request.app[keys.ALERT_BOARD]
    until = until_field(body, board.clock())
    comment = text_field(body, "comment", MAX_COMMENT)
    try:
        silence = await board.add_silence(matchers, until, by, comment)
    except BrokerUnavailable as exc:
        raise json_error(503, f"silenced, but not announced: {exc}") from None
    covered = board.covered(silence)
    return web.json_response(
        {"silence": silence.as_dict(), "matches": len(covered), "alert_ids": covered}, status=201
    )


async def silences(request: web.Request) -> web.Response:
    """GET /api/monitoring/silences: the active ones, the soonest to end first."""
    require_reader(request)
    return web.json_response({"silences": request.app[keys.ALERT_BOARD].silence_views()})


async def end_silence(request: web.Request) -> web.Response:
    """DELETE /api/monitoring/silences/{silence_id}[?by=NAME]: end it now."""
    identity = acting_identity(request)
    if identity is None:
        by = text_field(dict(request.query), "by", MAX_NAME) or ANONYMOUS
    else:
        by = identity.user_id or ANONYMOUS
    silence_id = request.match_info["silence_id"]
    try:
        ended = await request.app[keys.ALERT_BOARD].end_silence(silence_id, by)
    except UnknownSilence:
        raise json_error(404, f"no silence has the id '{silence_id}'") from None
    except SilenceNotActive:
        raise json_error(409, f"silence '{silence_id}' has ended already") from None
    except BrokerUnavailable as exc:
        raise json_error(503, f"ended, but not announced: {exc}") from None
    return web.json_response({"silence": ended.as_dict()})
