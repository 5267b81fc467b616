"""Prometheus metrics of the monitor: the host (see host_collector), the collector, health
checks, alerts."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from app.monitor.alert_record import HANDLING_STATES, Severity, Source
from app.monitor.health import HealthStatus
from app.monitor.host_collector import HostCollector
from app.monitor.host_reading import HostReading


class MonitorMetrics:
    def __init__(self, registry: CollectorRegistry, collector_interval: float) -> None:
        self.host = HostCollector(registry)
        self.collector_duration = Histogram(
            "livewatch_collector_duration_seconds",
            "Time to take and publish one host sample.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=registry,
        )
        self.collector_last_success = Gauge(
            "livewatch_collector_last_success_timestamp_seconds",
            "Unix time of the last sample the collector completed.",
            registry=registry,
        )
        self.collector_failures = Counter(
            "livewatch_collector_failures",
            "Host samples the collector failed to take or publish.",
            registry=registry,
        )
        self.collector_interval = Gauge(
            "livewatch_collector_interval_seconds",
            "Configured time between host samples (LIVEWATCH_COLLECTOR_INTERVAL).",
            registry=registry,
        )
        self.collector_interval.set(collector_interval)
        self.health_status = Gauge(
            "livewatch_health_check_status",
            "1 for the state each health check is in, 0 for the others.",
            ["check", "status"],
            registry=registry,
        )
        self.health_latency = Gauge(
            "livewatch_health_check_latency_seconds",
            "How long each health check took the last time it ran.",
            ["check"],
            registry=registry,
        )
        self.store_write_failures = Counter(
            "livewatch_store_write_failures",
            "Writes to the SQLite store that failed (each is kept and tried again).",
            registry=registry,
        )
        self.alerts_firing = Gauge(
            "livewatch_alerts_firing",
            "1 while an alert of this rule and severity is firing.",
            ["rule", "severity"],
            registry=registry,
        )
        # Alertmanager's alert names are unbounded, so alerts of every source are counted
        # here by bounded labels only: 2 sources x 2 severities x 3 states.
        self.alerts_active = Gauge(
            "livewatch_alerts_active",
            "Alerts firing now, by source, severity and whether they are unacknowledged, "
            "acknowledged or silenced.",
            ["source", "severity", "state"],
            registry=registry,
        )
        self.observe_alert_states({})

    def observe_host(self, reading: HostReading) -> None:
        self.host.observe(reading)

    def observe_health(self, check: str, status: str, latency_seconds: float) -> None:
        for state in HealthStatus:
            self.health_status.labels(check, state).set(1 if state == status else 0)
        self.health_latency.labels(check).set(latency_seconds)

    def observe_alert(self, rule: str, level: str | None) -> None:
        for severity in Severity:
            self.alerts_firing.labels(rule, severity).set(1 if severity == level else 0)

    def observe_alert_states(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Firing alerts counted by (source, severity, state); absent combinations are 0."""
        for source in Source:
            for severity in Severity:
                for state in HANDLING_STATES:
                    value = counts.get((source, severity, state), 0)
                    self.alerts_active.labels(source, severity, state).set(value)
