"""Request bodies, read within a size limit and a time limit."""

from __future__ import annotations

import asyncio

from aiohttp import web

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
