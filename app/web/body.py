"""Request bodies: read within a limit (413 past it), decoded as strict JSON (400)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from app.hub import protocol
from app.web.errors import json_error


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The body, or 413 past the limit. The limit is counted here rather than left to the
    app's client_max_size: aiohttp applies the top-level app's, so mounted as a sub-app
    livewatch would take a chunked body as large as its parent allows."""
    too_large = f"the body is larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise json_error(413, too_large)
    body = bytearray()
    async for chunk in request.content.iter_any():
        body += chunk
        if len(body) > limit:
            raise json_error(413, too_large)
    return bytes(body)


def parse_json(raw: bytes) -> Any:
    """JSON without NaN or infinities, whose strings livewatch can send on (no lone
    surrogates, no nesting past the protocol's depth)."""
    try:
        body = json.loads(raw, parse_constant=protocol.refuse_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if "is not JSON" in str(exc) else "body is not valid JSON"
        raise json_error(400, reason) from None
    try:
        protocol.check_encodable(body, "body")
    except protocol.Unencodable as exc:
        raise json_error(400, f"the body cannot be sent on: {exc}") from None
    return body


async def read_json(request: web.Request, limit: int, empty: Any = None) -> Any:
    """The JSON body (415 unless sent as application/json); `empty` for no body at all,
    where one may be left out."""
    raw = await read_limited(request, limit)
    if not raw and empty is not None:
        return empty
    if request.content_type != "application/json":
        raise json_error(415, "send the body as application/json")
    return parse_json(raw)
