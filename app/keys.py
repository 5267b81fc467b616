"""Every key the application stores state under (typed, no module-level state)."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from app.events import EventBroadcaster
from app.hub.broker import Broker
from app.hub.dispatch import Dispatcher
from app.hub.hub import Hub
from app.lifecycle import Lifecycle
from app.loop_lag import LoopLag
from app.monitor.alerts import AlertEngine
from app.monitor.collector import Collector
from app.monitor.health import HealthRegistry
from app.monitor.health_watch import HealthWatch
from app.settings import Settings
from app.store import AlertStore

SETTINGS = web.AppKey("settings", Settings)
REGISTRY = web.AppKey("registry", CollectorRegistry)
BROKER = web.AppKey("broker", Broker)
HUB = web.AppKey("hub", Hub)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
BROADCASTER = web.AppKey("broadcaster", EventBroadcaster)
STORE = web.AppKey("store", AlertStore)
HEALTH = web.AppKey("health", HealthRegistry)
HEALTH_WATCH = web.AppKey("health_watch", HealthWatch)
ALERTS = web.AppKey("alerts", AlertEngine)
COLLECTOR = web.AppKey("collector", Collector)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
LOOP_LAG = web.AppKey("loop_lag", LoopLag)
