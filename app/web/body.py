"""Request bodies: read within a size limit (413) and a time limit (408), decoded as strict
JSON (400)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from app.hub import protocol
from app.web import keys
from app.web.errors import json_error


async def read_body(request: web.Request, limit: int, within: float) -> bytes:
    """The body, 413 past `limit` bytes, or 408 if it has not all come within `within` seconds.

    The limit is counted here rather than left to the app's client_max_size: aiohttp
    applies the top-level app's, so mounted as a sub-app livewatch would take a chunked
    body as large as its parent allows. Without the time limit a client that sends half a
    body would hold its connection, and a file descriptor, for as long as it likes."""
    too_large = f"the body is larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise json_error(413, too_large)
    body = bytearray()
    try:
        async with asyncio.timeout(within):
            async for chunk in request.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise json_error(413, too_large)
    except TimeoutError:
        raise json_error(408, f"the body did not arrive within {within:g} s") from None
    return bytes(body)


def loads_strict(raw: bytes) -> Any:
    """JSON without NaN or infinities, else a 400 that says why."""
    try:
        return json.loads(raw, parse_constant=protocol.refuse_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if "is not JSON" in str(exc) else "body is not valid JSON"
        raise json_error(400, reason) from None


def parse_json(raw: bytes) -> Any:
    """JSON without NaN or infinities, whose strings livewatch can send on (no lone
    surrogates, no nesting past the protocol's depth)."""
    body = loads_strict(raw)
    try:
        protocol.check_encodable(body, "body")
    except protocol.Unencodable as exc:
        raise json_error(400, f"the body cannot be sent on: {exc}") from None
    return body


async def read_json(request: web.Request, limit: int, empty: Any = None) -> Any:
    """The JSON body (415 unless sent as application/json); `empty` for no body at all,
    where one may be left out. The body has the app's BODY_TIMEOUT to arrive."""
    raw = await read_body(request, limit, request.app[keys.SETTINGS].body_timeout)
    if not raw and empty is not None:
        return empty
    if request.content_type != "application/json":
        raise json_error(415, "send the body as application/json")
    return parse_json(raw)
