"""Runs the health checks periodically: gauges, the system.health event, the last report."""

from __future__ import annotations

import logging

from app.hub.events import EventBroadcaster, EventType
from app.monitor.health import HealthRegistry, HealthReport
from app.monitor.metrics import MonitorMetrics
from app.periodic import run_every

log = logging.getLogger(__name__)


class HealthWatch:
    def __init__(
        self,
        registry: HealthRegistry,
        interval: float,
        broadcaster: EventBroadcaster,
        metrics: MonitorMetrics,
    ) -> None:
        self.registry = registry
        self.interval = interval
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.last: HealthReport | None = None

    async def check(self) -> HealthReport:
        report = await self.registry.run()
        for name, result in report.checks.items():
            self.metrics.observe_health(name, result.status, result.latency_ms / 1000)
        if self.last is None or self.last.status != report.status:
            log.info("health is %s", report.status)
        self.last = report
        return report

    async def check_and_publish(self) -> None:
        report = await self.check()
        await self.broadcaster.emit(EventType.SYSTEM_HEALTH, report.as_dict())

    async def run(self) -> None:
        await run_every(self.interval, self.check_and_publish, "the health checks")
