"""create_app(settings): the whole service, wired from its parts."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import aiohttp_jinja2
import jinja2
import redis.asyncio as aioredis
from aiohttp import WSCloseCode, web
from prometheus_client import Info, PlatformCollector

from app import __version__
from app.hub.broker import Broker
from app.hub.cluster import ClusterStore, MemoryCluster, RedisCluster
from app.hub.dispatch import Dispatcher
from app.hub.events import EventBroadcaster
from app.hub.hub import Hub
from app.hub.idempotency import IdempotencyStore, MemoryIdempotency
from app.hub.memory_broker import MemoryBroker
from app.hub.metrics import HubMetrics
from app.hub.redis_broker import RedisBroker
from app.hub.redis_idempotency import RedisIdempotency
from app.lifecycle import Lifecycle
from app.logs import RedactingAccessLogger
from app.loop_lag import LoopLag
from app.monitor import checks
from app.monitor.alert_board import AlertBoard
from app.monitor.alert_store import AlertStore
from app.monitor.alertmanager import AlertmanagerReceiver
from app.monitor.alerts import AlertEngine, default_rules
from app.monitor.collector import Collector
from app.monitor.exposition import Registry
from app.monitor.health import HealthRegistry
from app.monitor.health_watch import HealthWatch
from app.monitor.heartbeat import Heartbeat
from app.monitor.metrics import MonitorMetrics
from app.monitor.process_metrics import ProcessSeries
from app.settings import Settings, env_name
from app.web import keys
from app.web.guards import guard
from app.web.http_server import GuardedRunner
from app.web.routes import setup_routes

log = logging.getLogger(__name__)

RESERVED_FILES = 128  # descriptors kept free of connections
LINGER_SECONDS = 2.0
STORE_RETRY_SECONDS = 2.0  # how soon a write the store refused is tried again


def page_root() -> Path:
    """Where templates/ and static/ are: beside the package in a checkout (and an editable
    install), or under <prefix>/share/livewatch when installed from a wheel."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "templates").is_dir():
        return checkout
    return Path(sys.prefix) / "share" / "livewatch"


ROOT = page_root()
TEMPLATES_DIR = ROOT / "templates"
STATIC_DIR = ROOT / "static"


def create_app(settings: Settings) -> web.Application:
    # The body limit is the publish limit: POST /api/events is the only route with a body.
    app = web.Application(client_max_size=settings.max_publish_bytes, middlewares=[guard])
    app[keys.SETTINGS] = settings
    app[keys.LIFECYCLE] = Lifecycle()

    registry = Registry()
    registry.register(ProcessSeries())
    PlatformCollector(registry=registry)
    Info("livewatch_build", "The running livewatch version.", registry=registry).info(
        {"version": __version__}
    )
    app[keys.REGISTRY] = registry
    hub_metrics = HubMetrics(registry)
    monitor_metrics = MonitorMetrics(registry, settings.collector_interval)
    app[keys.LOOP_LAG] = LoopLag(registry)

    broker, idempotency, cluster = make_shared_state(settings)
    hub = Hub(
        broker,
        hub_metrics,
        settings.node,
        settings.max_outbox_bytes,
        settings.shutdown_timeout,
        replay_limit=settings.recovery_limit,
    )
    broadcaster = EventBroadcaster(broker, hub_metrics)
    store = AlertStore(
        settings.database_path,
        settings.alert_history_limit,
        on_write_failure=monitor_metrics.store_write_failures.inc,
    )
    health = HealthRegistry(timeout=settings.health_timeout)
    board = AlertBoard(store, monitor_metrics, broadcaster)
    alerts = AlertEngine(
        default_rules(settings), settings.alert_hysteresis, board, monitor_metrics, settings.node
    )
    app[keys.BROKER] = broker
    app[keys.HUB] = hub
    app[keys.DISPATCHER] = Dispatcher(hub, settings.open_mode, settings.max_subscriptions)
    app[keys.BROADCASTER] = broadcaster
    app[keys.IDEMPOTENCY] = idempotency
    app[keys.CLUSTER] = cluster
    app[keys.STORE] = store
    app[keys.HEALTH] = health
    app[keys.HEALTH_WATCH] = HealthWatch(
        health, settings.health_interval, broadcaster, monitor_metrics
    )
    app[keys.ALERT_BOARD] = board
    app[keys.ALERTS] = alerts
    app[keys.ALERTMANAGER] = AlertmanagerReceiver(board)
    collector = app[keys.COLLECTOR] = Collector(
        settings.collector_interval,
        settings.history_seconds,
        settings.disk_path,
        settings.node,
        hub.figures,
        broadcaster,
        monitor_metrics,
        alerts,
    )
    app[keys.HEARTBEAT] = Heartbeat(
        cluster, hub, f"{settings.host}:{settings.port}", lambda: collector.last
    )

    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES_DIR))
    setup_routes(app, STATIC_DIR)
    app.cleanup_ctx.extend(
        [
            broker_ctx,
            store_ctx,
            http_client_ctx,
            redis_ctx,
            running(keys.HEALTH_WATCH),
            collector_ctx,
            running(keys.ALERT_BOARD),
            running(keys.HEARTBEAT),
            running(keys.LOOP_LAG),
        ]
    )
    app.on_shutdown.append(close_websockets)
    return app


def make_shared_state(settings: Settings) -> tuple[Broker, IdempotencyStore, ClusterStore]:
    """What nodes share: in this process alone, or in Redis for several nodes."""
    if settings.redis_broker is None:
        return (
            MemoryBroker(settings.history_size, settings.history_ttl),
            MemoryIdempotency(settings.idempotency_window),
            MemoryCluster(settings.cluster_heartbeat),
        )
    broker = RedisBroker(
        settings.redis_broker,
        prefix=settings.redis_prefix,
        history_size=settings.history_size,
        history_ttl=settings.history_ttl,
        timeout=settings.health_timeout,
        probe_interval=settings.broker_probe_interval,
        catch_up_limit=max(settings.history_size, settings.recovery_limit),
    )
    return (
        broker,
        RedisIdempotency(
            broker.commands,
            settings.redis_prefix,
            settings.idempotency_window,
            # After the claim come the script and the answer, each at most a connect and a
            # command timeout, tried twice: the lease outlasts both.
            lease=8 * settings.health_timeout,
        ),
        RedisCluster(broker.commands, settings.redis_prefix, settings.cluster_heartbeat),
    )


async def broker_ctx(app: web.Application) -> AsyncIterator[None]:
    broker = app[keys.BROKER]
    settings = app[keys.SETTINGS]
    if settings.redis_broker is not None:
        app[keys.HEALTH].register("redis", checks.broker_check(broker.ping))
        log.info("redis broker on %s", checks.redacted_url(settings.redis_broker))
    await broker.start(app[keys.HUB])
    yield
    await broker.stop()


async def store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = app[keys.STORE]
    await store.open()
    app[keys.HEALTH].register("database", checks.database_check(store))
    await app[keys.ALERT_BOARD].restore()
    await app[keys.ALERTS].restore()
    async with background(store.retry_forever(STORE_RETRY_SECONDS)):
        yield
    await store.retry()
    await store.close()


async def http_client_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    timeout = aiohttp.ClientTimeout(total=settings.health_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        if settings.llm_health_url:
            app[keys.HEALTH].register("llm", checks.llm_check(session, settings.llm_health_url))
        yield


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    if not settings.redis_url or settings.redis_broker is not None:
        yield  # with the Redis broker, the broker's own check is the redis check
        return
    client = aioredis.Redis.from_url(
        settings.redis_url,
        socket_timeout=settings.health_timeout,
        socket_connect_timeout=settings.health_timeout,
    )
    app[keys.HEALTH].register("redis", checks.redis_check(client))
    log.info("redis health check on %s", checks.redacted_url(settings.redis_url))
    yield
    await client.aclose()


async def collector_ctx(app: web.Application) -> AsyncIterator[None]:
    collector = app[keys.COLLECTOR]
    await collector.prime()
    try:
        async with background(collector.run()):
            yield
    finally:
        collector.close()


class Runs(Protocol):
    def run(self) -> Coroutine[Any, Any, None]: ...


def running(key: web.AppKey[Any]) -> Callable[[web.Application], AsyncIterator[None]]:
    """A cleanup context that runs app[key].run() for the app's lifetime: the health
    rounds, the alert board (silences end at their time), the heartbeat, the loop lag."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        part: Runs = app[key]
        async with background(part.run()):
            yield

    return ctx


@contextlib.asynccontextmanager
async def background(coro: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    task = asyncio.create_task(coro)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def close_websockets(app: web.Application) -> None:
    app[keys.LIFECYCLE].shutting_down = True
    await app[keys.HUB].close_all(WSCloseCode.GOING_AWAY, b"server shutdown")


def connection_cap(settings: Settings) -> int:
    """The most connections to accept: the setting, within what the process may open. The
    soft file limit is raised to the hard one first, as a server should; some descriptors
    stay free for the database, Redis and the logs, so a flood of half-open requests is
    refused with 503 rather than taking the service down."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
    if soft == resource.RLIM_INFINITY:
        return settings.max_connections
    cap = min(settings.max_connections, max(1, soft - RESERVED_FILES))
    if cap < settings.max_connections:
        log.warning(
            "accepting at most %d connections: the open-file limit is %d (%s asks for %d)",
            cap,
            soft,
            env_name("max_connections"),
            settings.max_connections,
        )
    return cap


def run(settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly (sockets closed with 1001)."""
    asyncio.run(serve(settings))


async def serve(settings: Settings) -> None:
    runner = GuardedRunner(
        create_app(settings),
        max_connections=connection_cap(settings),
        access_log_class=RedactingAccessLogger,
        # aiohttp closes a connection that has not sent a whole request within this long
        # (a slow or stuck header) and an idle keep-alive one.
        keepalive_timeout=settings.header_timeout,
        # After an early answer (413, 408) aiohttp reads what is left of the body so the
        # client sees the answer; a client that sends nothing more is not waited for long.
        lingering_time=LINGER_SECONDS,
        shutdown_timeout=settings.shutdown_timeout,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await web.TCPSite(
            runner, settings.host, settings.port, backlog=settings.listen_backlog
        ).start()
        await stop.wait()
    finally:
        await runner.cleanup()
