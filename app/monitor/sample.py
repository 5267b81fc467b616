"""A sample: what GET /api/monitoring/metrics serves and the system.metric event carries.

Both are `Sample.as_dict()`, so the endpoint and the event have the same keys by
construction. The history endpoint serves `as_history_dict()`: the same but the list of
top processes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from app.monitor.host_reading import HostFigures
from app.monitor.processes import TopProcess


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
        """Every field, the sequences as JSON's lists. Written out rather than through
        dataclasses.asdict(), which deep-copies and costs ten times as much."""
        answer = self.as_history_dict()
        top = self.top_processes
        answer["top_processes"] = {
            "by_cpu": [process_dict(process) for process in top.by_cpu],
            "by_memory": [process_dict(process) for process in top.by_memory],
        }
        return answer

    def as_history_dict(self) -> dict[str, Any]:
        """A sample of the history answer: every field but top_processes, which only the
        latest sample and the event carry (it would multiply the history's size by six)."""
        answer = {name: getattr(self, name) for name in SCALAR_FIELDS}
        answer["cpu_percent_per_core"] = list(self.cpu_percent_per_core)
        return answer


def process_dict(process: TopProcess) -> dict[str, Any]:
    return {
        "pid": process.pid,
        "name": process.name,
        "cpu_percent": process.cpu_percent,
        "memory_percent": process.memory_percent,
        "rss_bytes": process.rss_bytes,
    }


SAMPLE_FIELDS = tuple(item.name for item in fields(Sample))
SCALAR_FIELDS = tuple(
    name for name in SAMPLE_FIELDS if name not in ("cpu_percent_per_core", "top_processes")
)
