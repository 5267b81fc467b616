"""One alert transition as stored, queried and broadcast."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Alert levels, in rising order."""

    WARNING = "warning"
    CRITICAL = "critical"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class AlertRecord:
    alert_id: str
    rule: str
    metric: str
    level: str
    state: str
    message: str
    value: float
    threshold: float
    timestamp: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
