"""Query-string parameters, parsed strictly: a bad one is a 400 that names it."""

from __future__ import annotations

import re
from typing import overload

from aiohttp import web

from app.web.errors import json_error

# int() also takes "5_0", " 5" and other scripts' digits; a URL parameter should not.
INTEGER = re.compile(r"-?[0-9]{1,18}")


@overload
def int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int: ...


@overload
def int_query(
    request: web.Request, name: str, default: None, low: int, high: int
) -> int | None: ...


def int_query(
    request: web.Request, name: str, default: int | None, low: int, high: int
) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if INTEGER.fullmatch(raw) is None:
        raise json_error(400, f"'{name}' must be an integer", field=name)
    value = int(raw)
    if not low <= value <= high:
        raise json_error(400, f"'{name}' must be between {low} and {high}", field=name)
    return value
