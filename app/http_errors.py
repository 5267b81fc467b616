"""JSON error bodies for HTTP answers: {"error": message, "field": name?}."""

from __future__ import annotations

import json

from aiohttp import web

_ERRORS: dict[int, type[web.HTTPError]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    415: web.HTTPUnsupportedMediaType,
}


def json_error(status: int, message: str, field: str | None = None) -> web.HTTPError:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    return _ERRORS[status](text=json.dumps(body), content_type="application/json")
