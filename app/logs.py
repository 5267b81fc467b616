"""Logging to stderr, as text or as one JSON object per line."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from app.timeutil import rfc3339

SECRET_QUERY_KEYS = frozenset({"token", "access_token"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": rfc3339(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RepeatFilter(logging.Filter):
    """The same message from the same place, again and again (a client flood, a dependency
    down), is written once per window, then once more with how many were left out: a
    flood of bad requests must not become a flood of log lines. The access log is not
    filtered; it is one line per request by design."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "aiohttp.access":
            return True
        error = record.exc_info[0].__name__ if record.exc_info and record.exc_info[0] else ""
        key = (record.name, str(record.msg), error)
        now = self.clock()
        since, left_out = self._seen.get(key, (float("-inf"), 0))
        if now - since < self.window:
            self._seen[key] = (since, left_out + 1)
            return False
        if left_out:
            record.msg = f"{record.msg} ({left_out} more like this in the last {now - since:.0f} s)"
        self._seen[key] = (now, 0)
        if len(self._seen) > 10_000:  # keys carry message templates: few, but bounded anyway
            self._seen.clear()
        return True


def configure_logging(log_format: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def redacted_target(request: BaseRequest) -> str:
    """The request path and query with every secret query value replaced."""
    if not request.query_string:
        return request.path
    query = "&".join(
        f"{key}={'REDACTED' if key in SECRET_QUERY_KEYS else value}"
        for key, value in request.query.items()
    )
    return f"{request.path}?{query}"


class RedactingAccessLogger(AbstractAccessLogger):
    """Access log lines that never carry a token."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s HTTP/%d.%d" %d %d %.6f',
            request.remote,
            request.method,
            redacted_target(request),
            request.version.major,
            request.version.minor,
            response.status,
            response.body_length,
            time,
        )
