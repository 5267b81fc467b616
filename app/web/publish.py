"""POST /api/events: the application publishes an event over HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from aiohttp import web
from livewatch_client.codes import IDEMPOTENCY_HEADER, REPLAYED_HEADER

from app.channels import CHANNEL_RULE, ID_RULE, is_valid_channel, is_valid_id
from app.hub import protocol
from app.hub.broker import BrokerUnavailable
from app.hub.events import RESERVED_CHANNELS, RESERVED_PREFIX, NoRouteError
from app.hub.idempotency import KeyReused
from app.settings import Settings, env_name, is_loopback_host
from app.web import keys
from app.web.body import loads_strict, read_body
from app.web.errors import json_error
from app.web.identity import bearer_token

EVENT_PATTERN = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
EVENT_MAX_LENGTH = 64
FIELDS = {"event", "data", "business_id", "user_id", "channel", "idempotency_key"}
KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,255}")


def _parse_body(raw: bytes) -> dict[str, Any]:
    body = loads_strict(raw)
    if not isinstance(body, dict):
        raise json_error(400, "body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise json_error(400, f"unknown field '{unknown[0]}'", unknown[0])
    event = body.get("event")
    if event is None:
        raise json_error(400, "'event' is required", "event")
    if (
        not isinstance(event, str)
        or len(event) > EVENT_MAX_LENGTH
        or not EVENT_PATTERN.fullmatch(event)
    ):
        raise json_error(
            400, "'event' must be a dotted lower-case name such as 'task.started'", "event"
        )
    if "data" not in body:
        raise json_error(400, "'data' is required (an object, may be empty)", "data")
    if not isinstance(body["data"], dict):
        raise json_error(400, "'data' must be a JSON object", "data")
    try:
        protocol.check_encodable(body["data"], "data")
    except protocol.Unencodable as exc:
        raise json_error(400, f"'data' cannot be sent on: {exc}", "data") from None
    for name in ("business_id", "user_id"):
        value = body.get(name)
        if value is not None and not is_valid_id(value):
            raise json_error(400, f"'{name}' must be {ID_RULE}", name)
    channel = body.get("channel")
    if channel is not None and not is_valid_channel(channel):
        raise json_error(400, f"'channel' must be {CHANNEL_RULE}", "channel")
    if event.startswith(RESERVED_PREFIX):
        raise json_error(
            403, f"'{event}' is reserved: only livewatch itself publishes system.* events", "event"
        )
    if channel in RESERVED_CHANNELS:
        raise json_error(403, f"'{channel}' is reserved for livewatch's own samples", "channel")
    return body


def authorize_publisher(request: web.Request, settings: Settings) -> None:
    if settings.publish_key is not None:
        presented = bearer_token(request)
        if presented is None:
            raise json_error(401, f"send 'Authorization: Bearer <{env_name('publish_key')}>'")
        if not hmac.compare_digest(presented.encode(), settings.publish_key.encode()):
            raise json_error(401, "the publish key is wrong")
    elif settings.open_mode:
        if request.remote is None or not is_loopback_host(request.remote):
            raise json_error(401, "in open mode only loopback clients may publish")
    else:
        raise json_error(
            401, f"publishing over HTTP is off: set {env_name('publish_key')} to enable it"
        )


def idempotency_key(request: web.Request, body: dict[str, Any]) -> str | None:
    header = request.headers.get(IDEMPOTENCY_HEADER)
    field = body.pop("idempotency_key", None)
    if header is not None and field is not None and header != field:
        raise json_error(
            400, f"the {IDEMPOTENCY_HEADER} header and 'idempotency_key' differ", "idempotency_key"
        )
    key = header if header is not None else field
    if key is not None and (not isinstance(key, str) or not KEY_PATTERN.fullmatch(key)):
        raise json_error(
            400, "an idempotency key is 1-255 printable ASCII characters", "idempotency_key"
        )
    return key


def fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def publish_event(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    authorize_publisher(request, settings)
    if request.content_type != "application/json":
        raise json_error(415, "send the event as application/json")
    body = _parse_body(await read_body(request, settings.max_publish_bytes, settings.body_timeout))
    key = idempotency_key(request, body)

    async def publish() -> dict[str, Any]:
        try:
            result = await request.app[keys.BROADCASTER].emit(
                body["event"],
                body["data"],
                business_id=body.get("business_id"),
                user_id=body.get("user_id"),
                channel=body.get("channel"),
            )
        except NoRouteError as exc:
            raise json_error(400, str(exc), "channel") from None
        except BrokerUnavailable as exc:
            raise json_error(503, f"nothing was published: {exc}") from None
        return {"channels": result.channels, "recipients": result.recipients}

    if key is None:
        return web.json_response(await publish(), status=202)
    try:
        answer, replayed = await request.app[keys.IDEMPOTENCY].run(key, fingerprint(body), publish)
    except KeyReused:
        raise json_error(
            422, "this idempotency key was used for a different event", "idempotency_key"
        ) from None
    except BrokerUnavailable as exc:
        raise json_error(503, f"nothing was published: {exc}") from None
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return web.json_response(answer, status=202, headers=headers)
