"""GET /static/...: the page's files, and a JSON 404 for anything else.

aiohttp's own static route answers a missing file with an empty body after every
middleware has run, so it would be the one error in the service that is not JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from app.web.errors import json_error


def static_handler(root: Path) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    base = root.resolve()

    async def serve(request: web.Request) -> web.StreamResponse:
        wanted = request.match_info["path"]
        target = (base / wanted).resolve()
        if not target.is_relative_to(base) or not target.is_file():
            raise json_error(404, f"no such file: static/{wanted}")
        return web.FileResponse(target)

    return serve
