"""Prometheus metrics of the WebSocket hub, registered on the app's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.channels import ChannelKind


class HubMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.connections = Gauge(
            "livewatch_ws_connections",
            "Open WebSocket connections.",
            registry=registry,
        )
        self.subscriptions = Gauge(
            "livewatch_ws_subscriptions",
            "Channel subscriptions held by open connections, by channel kind.",
            ["kind"],
            registry=registry,
        )
        for kind in ChannelKind:  # every series exists from the start
            self.subscriptions.labels(kind)
        self.events_published = Counter(
            "livewatch_events_published",
            "Events published, by event type (types outside the built-in set count as 'other').",
            ["event"],
            registry=registry,
        )
        self.deliveries = Counter(
            "livewatch_ws_deliveries",
            "Event frames handed to WebSocket connections.",
            registry=registry,
        )
        self.slow_disconnects = Counter(
            "livewatch_ws_slow_disconnects",
            "Connections closed with 1013 because their outbox overflowed.",
            registry=registry,
        )
        self.broadcast_duration = Histogram(
            "livewatch_broadcast_duration_seconds",
            "Time to fan one event out to the local subscribers of a channel.",
            buckets=(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5),
            registry=registry,
        )
