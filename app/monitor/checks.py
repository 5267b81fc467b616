"""The default health checks; each probes a real dependency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp
import redis.asyncio as aioredis

from app.monitor.alert_store import AlertStore, StoreFault
from app.monitor.health import HEALTHY, UNHEALTHY, CheckFn, Outcome


def database_check(store: AlertStore) -> CheckFn:
    """The store takes a write now (a heartbeat row), and nothing waits to be written."""

    async def check() -> Outcome:
        try:
            return Outcome(HEALTHY, await store.check())
        except StoreFault as exc:
            return Outcome(UNHEALTHY, str(exc))

    return check


def redis_check(client: aioredis.Redis) -> CheckFn:
    async def check() -> Outcome:
        if await client.ping():
            return Outcome(HEALTHY, "PING answered PONG")
        return Outcome(UNHEALTHY, "PING was not answered with PONG")

    return check


def broker_check(ping: Callable[[], Awaitable[None]]) -> CheckFn:
    """The broker's own view: its commands answer and its pub/sub connection is live."""

    async def check() -> Outcome:
        await ping()
        return Outcome(HEALTHY, "commands and pub/sub answer")

    return check


def llm_check(session: aiohttp.ClientSession, url: str) -> CheckFn:
    target = redacted_url(url)

    async def check() -> Outcome:
        async with session.get(url, allow_redirects=False) as response:
            if 200 <= response.status < 300:
                return Outcome(HEALTHY, f"GET {target} answered {response.status}")
            return Outcome(UNHEALTHY, f"GET {target} answered {response.status} {response.reason}")

    return check


def redacted_url(url: str) -> str:
    """A URL fit for logs and health messages: no user, no password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc, query="", fragment="").geturl()
