"""A sample: what GET /api/monitoring/metrics serves and the system.metric event carries.

Both are `Sample.as_dict()`, so the endpoint and the event have the same keys by
construction. The history endpoint serves `as_history_dict()`: the same but the list of
top processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from app.monitor.host_reading import HostFigures


@dataclass(frozen=True)
class Sample(HostFigures):
    node: str  # the livewatch node that took it
    active_connections: int
    queued_frames: int  # event frames queued in outboxes that no socket has taken yet
    timestamp: str

    @classmethod
    def of(
        cls,
        host: HostFigures,
        node: str,
        active_connections: int,
        queued_frames: int,
        timestamp: str,
    ) -> Sample:
        return cls(
            **{item.name: getattr(host, item.name) for item in fields(HostFigures)},
            node=node,
            active_connections=active_connections,
            queued_frames=queued_frames,
            timestamp=timestamp,
        )

    def as_dict(self) -> dict[str, Any]:
        answer: dict[str, Any] = as_json(asdict(self))
        return answer

    def as_history_dict(self) -> dict[str, Any]:
        """A sample of the history answer: every field but top_processes, which only the
        latest sample and the event carry (it would multiply the history's size by six)."""
        answer = self.as_dict()
        del answer["top_processes"]
        return answer


def as_json(value: Any) -> Any:
    """Tuples (the dataclasses' immutable sequences) as the lists JSON has."""
    if isinstance(value, tuple | list):
        return [as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    return value


SAMPLE_FIELDS = tuple(item.name for item in fields(Sample))
