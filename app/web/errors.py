"""JSON error bodies for HTTP answers: {"error": message, "field": name?}."""

from __future__ import annotations

import json

from aiohttp import web


def json_error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> web.HTTPError:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    error = web.HTTPError(text=json.dumps(body), content_type="application/json", headers=headers)
    error.set_status(status)
    return error
