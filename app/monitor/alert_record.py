"""One alert transition as stored, queried and broadcast, and an acknowledgement of one."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Alert levels, in rising order."""

    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Source(StrEnum):
    """Where an alert comes from: livewatch's own threshold rules, or Prometheus through
    Alertmanager's webhook."""

    LIVEWATCH = "livewatch"
    ALERTMANAGER = "alertmanager"


# Where a firing alert stands with the people watching (the livewatch_alerts_active label).
HANDLING_STATES = ("unacknowledged", "acknowledged", "silenced")


SEVERITIES = tuple(severity.value for severity in Severity)  # in rising order


def severity_rank(level: str | None) -> int:
    """0 for warning, 1 for critical: the order of Severity; -1 for none."""
    return SEVERITIES.index(level) if level in SEVERITIES else -1


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str  # one per incident: from first firing to resolved
    rule: str  # a threshold rule's name, or an Alertmanager alert's alertname
    metric: str  # the sample field a threshold rule reads; empty for Alertmanager's
    level: str  # a Severity
    state: str  # an AlertState
    message: str
    value: float | None  # the reading that caused the transition (threshold rules only)
    threshold: float | None
    timestamp: str  # when this transition happened
    source: str = Source.LIVEWATCH.value
    key: str = ""  # what fires, per source: the rule name, or Alertmanager's fingerprint
    node: str = ""  # the livewatch node (own rules) or the alert's instance (Alertmanager)
    started_at: str = ""  # when the incident began
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    generator_url: str = ""  # where the alert comes from, e.g. the Prometheus graph

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Acknowledgement:
    """Someone has seen an alert and is on it. It holds at the level it was given at: an
    alert that rises above that level is unacknowledged again."""

    alert_id: str
    by: str
    comment: str
    level: str
    at: str

    def covers(self, record: AlertRecord) -> bool:
        return self.alert_id == record.alert_id and severity_rank(record.level) <= severity_rank(
            self.level
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
