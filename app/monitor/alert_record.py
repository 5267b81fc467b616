"""One alert transition as stored, queried and broadcast."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


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

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> AlertRecord:
        return cls(*row)
