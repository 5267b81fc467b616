"""Health checks: aggregation, timeouts, and the default checks against real dependencies."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from app.monitor.health import DEGRADED, HEALTHY, UNHEALTHY, HealthRegistry, Outcome
from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, free_port

ServerFactory = Callable[..., Awaitable[TestServer]]


async def test_default_health_is_a_real_database_query(client: LivewatchClient) -> None:
    response = await client.get("/api/monitoring/health")
    assert response.status == 200
    body = await response.json()
    assert body["status"] == "healthy"
    assert list(body["checks"]) == ["database"], "unconfigured checks must not be listed"
    database = body["checks"]["database"]
    assert database["status"] == "healthy"
    assert "0 alert records" in database["message"]
    assert database["latency_ms"] >= 0


async def test_database_check_fails_when_the_store_is_gone(client: LivewatchClient) -> None:
    await client.app[keys.STORE].close()
    response = await client.get("/api/monitoring/health")
    assert response.status == 503
    body = await response.json()
    assert body["checks"]["database"]["status"] == "unhealthy"
    assert "closed" in body["checks"]["database"]["message"]
    assert (await client.get("/readyz")).status == 503


async def test_failing_and_slow_checks_make_the_answer_unhealthy(client: LivewatchClient) -> None:
    async def broken() -> Outcome:
        raise ConnectionRefusedError("nobody listening")

    async def slow() -> Outcome:
        await asyncio.sleep(30)
        return Outcome(HEALTHY, "too late")

    health = client.app[keys.HEALTH]
    health.register("broken", broken)
    health.register("slow", slow)
    started = asyncio.get_running_loop().time()
    response = await client.get("/api/monitoring/health")
    elapsed = asyncio.get_running_loop().time() - started
    assert response.status == 503
    body = await response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["database"]["status"] == "healthy"
    assert body["checks"]["broken"]["status"] == "unhealthy"
    assert body["checks"]["broken"]["message"] == "ConnectionRefusedError: nobody listening"
    assert body["checks"]["slow"]["status"] == "unhealthy"
    assert body["checks"]["slow"]["message"] == "no answer within 1 s"
    assert elapsed < 5, "checks run concurrently under a timeout"


async def test_degraded_check_gives_degraded_with_200(client: LivewatchClient) -> None:
    async def wobbly() -> Outcome:
        return Outcome(DEGRADED, "replica lagging")

    client.app[keys.HEALTH].register("replica", wobbly)
    response = await client.get("/api/monitoring/health")
    assert response.status == 200
    assert (await response.json())["status"] == "degraded"


async def test_checks_run_concurrently() -> None:
    async def nap() -> Outcome:
        await asyncio.sleep(0.3)
        return Outcome(HEALTHY, "ok")

    registry = HealthRegistry(timeout=2)
    for n in range(5):
        registry.register(f"nap{n}", nap)
    started = asyncio.get_running_loop().time()
    report = await registry.run()
    assert asyncio.get_running_loop().time() - started < 1.0
    assert report.status == HEALTHY
    assert all(result.latency_ms >= 290 for result in report.checks.values())


@pytest.mark.redis
async def test_redis_check_pings_the_real_redis(make_client: AppFactory) -> None:
    client = await make_client(redis_url="redis://127.0.0.1:6379/0")
    body = await (await client.get("/api/monitoring/health")).json()
    assert body["checks"]["redis"] == {**body["checks"]["redis"], "status": HEALTHY}
    assert body["checks"]["redis"]["message"] == "PING answered PONG"


async def test_redis_check_is_unhealthy_when_nothing_listens(make_client: AppFactory) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    client = await make_client(redis_url=url)
    response = await client.get("/api/monitoring/health")
    assert response.status == 503
    assert (await response.json())["checks"]["redis"]["status"] == UNHEALTHY


async def test_llm_check_gets_the_configured_url(
    make_client: AppFactory, aiohttp_server: ServerFactory
) -> None:
    seen: list[str] = []

    async def tags(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"models": []})

    llm = web.Application()
    llm.router.add_get("/api/tags", tags)
    llm_server = await aiohttp_server(llm)
    url = f"http://127.0.0.1:{llm_server.port}/api/tags"
    client = await make_client(llm_health_url=url)
    body = await (await client.get("/api/monitoring/health")).json()
    assert body["checks"]["llm"]["status"] == HEALTHY
    assert body["checks"]["llm"]["message"] == f"GET {url} answered 200"
    assert "/api/tags" in seen


async def test_llm_check_is_unhealthy_on_an_error_status(
    make_client: AppFactory, aiohttp_server: ServerFactory
) -> None:
    async def down(request: web.Request) -> web.Response:
        return web.Response(status=502, text="model runner down")

    llm = web.Application()
    llm.router.add_get("/api/tags", down)
    llm_server = await aiohttp_server(llm)
    url = f"http://127.0.0.1:{llm_server.port}/api/tags"
    client = await make_client(llm_health_url=url)
    response = await client.get("/api/monitoring/health")
    assert response.status == 503
    assert "502" in (await response.json())["checks"]["llm"]["message"]
