"""Cross-site WebSocket hijacking guard: the handshake's Origin must be allowed."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web


def _normalise(origin: str) -> str:
    parts = urlsplit(origin.strip().rstrip("/"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def origin_allowed(request: web.Request, allowed: Iterable[str]) -> bool:
    """No Origin (a non-browser client) passes; a browser's must be listed, or, with no
    list, name the very host the request was sent to."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        candidate = _normalise(origin)
    except ValueError:
        return False
    allowlist = {_normalise(entry) for entry in allowed}
    if not allowlist:
        allowlist = {_normalise(f"{request.scheme}://{request.host}")}
    return candidate in allowlist
