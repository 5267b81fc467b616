"""Threshold alerts: fire once on entering a level, change once per level change,
resolve once when the value falls below the level minus a hysteresis margin."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace

from app.monitor.alert_board import AlertBoard
from app.monitor.alert_record import (
    SEVERITIES,
    AlertRecord,
    AlertState,
    Severity,
    Source,
    severity_rank,
)
from app.monitor.metrics import MonitorMetrics
from app.monitor.sample import Sample
from app.settings import THRESHOLD_RULES, Settings
from app.timeutil import now_rfc3339

WARNING = Severity.WARNING.value
CRITICAL = Severity.CRITICAL.value
LEVELS = SEVERITIES
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
        if severity_rank(entered) >= severity_rank(current):
            return entered
        level = current
        while level is not None and value < self.threshold(level) - hysteresis:
            lower = severity_rank(level) - 1
            level = LEVELS[lower] if lower >= 0 else None
        return level


def default_rules(settings: Settings) -> list[ThresholdRule]:
    return [
        ThresholdRule(name, f"{name}_percent", RULE_LABELS[name], limits.warning, limits.critical)
        for name in THRESHOLD_RULES
        for limits in [settings.threshold(name)]
    ]


class AlertEngine:
    """livewatch's own threshold rules over each host sample; the board keeps, stores and
    announces what they raise."""

    def __init__(
        self,
        rules: list[ThresholdRule],
        hysteresis: float,
        board: AlertBoard,
        metrics: MonitorMetrics,
        node: str,
    ) -> None:
        self.rules = rules
        self.hysteresis = hysteresis
        self.board = board
        self.metrics = metrics
        self.node = node

    def current(self, rule: ThresholdRule) -> AlertRecord | None:
        return self.board.current(Source.LIVEWATCH, rule.name)

    async def restore(self) -> None:
        """Set the gauges from what the board restored: an alert still firing after a
        restart does not fire twice."""
        for rule in self.rules:
            current = self.current(rule)
            self.metrics.observe_alert(rule.name, current.level if current else None)

    async def evaluate(self, sample: Sample) -> list[AlertRecord]:
        changes = []
        for rule in self.rules:
            record = await self._evaluate_rule(rule, float(getattr(sample, rule.metric)))
            if record is not None:
                changes.append(record)
        return changes

    async def _evaluate_rule(self, rule: ThresholdRule, value: float) -> AlertRecord | None:
        current = self.current(rule)
        level = rule.next_level(current.level if current else None, value, self.hysteresis)
        if level == (current.level if current else None):
            return None
        now = now_rfc3339()
        if level is None:
            assert current is not None
            record = replace(
                current,
                state=AlertState.RESOLVED.value,
                message=f"{rule.label} usage back to normal: {value:.1f}%",
                value=value,
                timestamp=now,
            )
        else:
            word = "critical" if level == CRITICAL else "high"
            limit = f"{level} at {rule.threshold(level):g}%"
            record = AlertRecord(
                alert_id=current.alert_id if current else uuid.uuid4().hex,
                rule=rule.name,
                metric=rule.metric,
                level=level,
                state=AlertState.FIRING.value,
                message=f"{rule.label} usage {word}: {value:.1f}% ({limit})",
                value=value,
                threshold=rule.threshold(level),
                timestamp=now,
                source=Source.LIVEWATCH.value,
                key=rule.name,
                node=self.node,
                started_at=current.started_at if current else now,
            )
        self.metrics.observe_alert(rule.name, level)
        await self.board.record(record)
        return record
