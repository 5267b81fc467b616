"""Threshold alerts: fire once on entering a level, change once per level change,
resolve once when the value falls below the level minus a hysteresis margin."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from app.hub.events import EventBroadcaster, EventType
from app.monitor.alert_record import AlertRecord, AlertState, Severity
from app.monitor.alert_store import AlertStore
from app.monitor.metrics import MonitorMetrics
from app.monitor.sample import Sample
from app.settings import THRESHOLD_RULES, Settings
from app.timeutil import now_rfc3339

log = logging.getLogger(__name__)

WARNING = Severity.WARNING.value
CRITICAL = Severity.CRITICAL.value
LEVELS = tuple(severity.value for severity in Severity)  # in rising order
RULE_LABELS = {"cpu": "CPU", "memory": "Memory", "disk": "Disk"}


@dataclass(frozen=True)
class ThresholdRule:
    name: str
    metric: str
    label: str
    warning: float
    critical: float

    def threshold(self, level: str) -> float:
        return self.warning if level == WARNING else self.critical

    def entered_level(self, value: float) -> str | None:
        """The highest level whose threshold the value is above."""
        entered = None
        for level in LEVELS:
            if value > self.threshold(level):
                entered = level
        return entered

    def next_level(self, current: str | None, value: float, hysteresis: float) -> str | None:
        """Rise at once to the level entered; fall one level at a time, each only once
        the value is below that level's threshold minus the hysteresis margin."""
        entered = self.entered_level(value)
        if _rank(entered) >= _rank(current):
            return entered
        level = current
        while level is not None and value < self.threshold(level) - hysteresis:
            lower = _rank(level) - 1
            level = LEVELS[lower] if lower >= 0 else None
        return level


def _rank(level: str | None) -> int:
    return -1 if level is None else LEVELS.index(level)


def default_rules(settings: Settings) -> list[ThresholdRule]:
    return [
        ThresholdRule(name, f"{name}_percent", RULE_LABELS[name], limits.warning, limits.critical)
        for name in THRESHOLD_RULES
        for limits in [settings.threshold(name)]
    ]


class AlertEngine:
    def __init__(
        self,
        rules: list[ThresholdRule],
        hysteresis: float,
        store: AlertStore,
        metrics: MonitorMetrics,
        broadcaster: EventBroadcaster,
    ) -> None:
        self.rules = rules
        self.hysteresis = hysteresis
        self.store = store
        self.metrics = metrics
        self.broadcaster = broadcaster
        self.active: dict[str, AlertRecord] = {}

    async def restore(self) -> None:
        """Pick up alerts that were firing when the service stopped, so they do not fire twice."""
        known = {rule.name for rule in self.rules}
        for record in await self.store.active():
            if record.rule in known:
                self.active[record.rule] = record
        for rule in self.rules:
            current = self.active.get(rule.name)
            self.metrics.observe_alert(rule.name, current.level if current else None)

    async def evaluate(self, sample: Sample) -> list[AlertRecord]:
        changes = []
        for rule in self.rules:
            record = await self._evaluate_rule(rule, float(getattr(sample, rule.metric)))
            if record is not None:
                changes.append(record)
        return changes

    async def _evaluate_rule(self, rule: ThresholdRule, value: float) -> AlertRecord | None:
        current = self.active.get(rule.name)
        level = rule.next_level(current.level if current else None, value, self.hysteresis)
        if level == (current.level if current else None):
            return None
        if level is None:
            assert current is not None
            record = AlertRecord(
                alert_id=current.alert_id,
                rule=rule.name,
                metric=rule.metric,
                level=current.level,
                state=AlertState.RESOLVED,
                message=f"{rule.label} usage back to normal: {value:.1f}%",
                value=value,
                threshold=current.threshold,
                timestamp=now_rfc3339(),
            )
            del self.active[rule.name]
        else:
            word = "critical" if level == CRITICAL else "high"
            limit = f"{level} at {rule.threshold(level):g}%"
            record = AlertRecord(
                alert_id=current.alert_id if current else uuid.uuid4().hex,
                rule=rule.name,
                metric=rule.metric,
                level=level,
                state=AlertState.FIRING,
                message=f"{rule.label} usage {word}: {value:.1f}% ({limit})",
                value=value,
                threshold=rule.threshold(level),
                timestamp=now_rfc3339(),
            )
            self.active[rule.name] = record
        log.warning("alert %s %s: %s", record.rule, record.state, record.message)
        self.metrics.observe_alert(rule.name, level)
        await self.store.add(record)
        await self.announce(record)
        return record

    async def announce(self, record: AlertRecord) -> None:
        """Tell every client: system.alert while firing, system.alert_resolved at the end."""
        event = (
            EventType.SYSTEM_ALERT
            if record.state == AlertState.FIRING
            else EventType.SYSTEM_ALERT_RESOLVED
        )
        await self.broadcaster.emit(event, {**record.as_dict(), "details": {}})
