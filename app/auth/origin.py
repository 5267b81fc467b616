"""Which browsers and which host names may talk to livewatch.

Two guards against a web page in the user's browser reaching livewatch:
- the WebSocket handshake's `Origin` must be allowed (cross-site WebSocket hijacking);
- in open mode, the `Host` must name this machine's loopback (DNS rebinding: a page on
  evil.example whose name is re-pointed at 127.0.0.1 sends `Host: evil.example`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from urllib.parse import urlsplit

LOCAL_NAMES = frozenset({"localhost", "localhost."})


def normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip().rstrip("/"))
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{port}"


def origin_allowed(origin: str | None, allowed: Iterable[str]) -> bool:
    """No Origin (a non-browser client) passes; a browser's must be in the allowlist."""
    if origin is None:
        return True
    try:
        candidate = normalise_origin(origin)
    except ValueError:
        return False
    return candidate in {normalise_origin(entry) for entry in allowed}


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port: `[::1]:8080` gives `::1`."""
    try:
        return (urlsplit(f"//{host_header}").hostname or "").lower()
    except ValueError:
        return ""


def is_local_name(name: str) -> bool:
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def host_allowed(host_header: str | None, extra: Iterable[str]) -> bool:
    if not host_header:
        return False
    name = host_name(host_header)
    return is_local_name(name) or name in {entry.lower() for entry in extra}
