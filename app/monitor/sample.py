"""A sample: what GET /api/monitoring/metrics serves and the system.metric event carries.

Both are `Sample.as_dict()`, so the endpoint and the event have the same keys by
construction.
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
        return asdict(self)


SAMPLE_FIELDS = tuple(item.name for item in fields(Sample))
