"""The typed keys the application stores its parts under.

They live in the web layer, the only code that looks parts up on the app: the hub and the
monitor get what they need passed in, so they never import this.
"""

from __future__ import annotations

from aiohttp import web

from app.hub.broker import Broker
from app.hub.cluster import ClusterStore
from app.hub.dispatch import Dispatcher
from app.hub.events import EventBroadcaster
from app.hub.hub import Hub
from app.hub.idempotency import IdempotencyStore
from app.lifecycle import Lifecycle
from app.loop_lag import LoopLag
from app.monitor.alert_board import AlertBoard
from app.monitor.alert_store import AlertStore
from app.monitor.alertmanager import AlertmanagerReceiver
from app.monitor.alerts import AlertEngine
from app.monitor.collector import Collector
from app.monitor.exposition import Registry
from app.monitor.health import HealthRegistry
from app.monitor.health_watch import HealthWatch
from app.monitor.heartbeat import Heartbeat
from app.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
REGISTRY = web.AppKey("registry", Registry)
BROKER = web.AppKey("broker", Broker)
HUB = web.AppKey("hub", Hub)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
BROADCASTER = web.AppKey("broadcaster", EventBroadcaster)
IDEMPOTENCY = web.AppKey("idempotency", IdempotencyStore)
CLUSTER = web.AppKey("cluster", ClusterStore)
HEARTBEAT = web.AppKey("heartbeat", Heartbeat)
STORE = web.AppKey("store", AlertStore)
HEALTH = web.AppKey("health", HealthRegistry)
HEALTH_WATCH = web.AppKey("health_watch", HealthWatch)
ALERTS = web.AppKey("alerts", AlertEngine)
ALERT_BOARD = web.AppKey("alert_board", AlertBoard)
ALERTMANAGER = web.AppKey("alertmanager", AlertmanagerReceiver)
COLLECTOR = web.AppKey("collector", Collector)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
LOOP_LAG = web.AppKey("loop_lag", LoopLag)
