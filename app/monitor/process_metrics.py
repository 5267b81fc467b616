"""The process_* series every Prometheus exporter serves about itself, read from /proc.

prometheus_client's ProcessCollector gives the same series but costs about 200 us a scrape
here (buffered file objects, /proc/self/limits parsed each time, a metric family object
per series), as much as the hundred and sixty host series together. This reads
/proc/self/stat once per scrape, the fd table's size and the file limit, and computes the
start time once: it cannot change.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator

from prometheus_client.metrics_core import Metric

from app.monitor import procfs
from app.monitor.exposition import Family, Kind, metrics_of, render_families

# The names and help texts Prometheus's client libraries use, so dashboards find them.
SERIES: tuple[tuple[str, Kind, str], ...] = (
    ("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes."),
    ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes."),
    (
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    ),
    ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds."),
    ("process_open_fds", "gauge", "Number of open file descriptors."),
    ("process_max_fds", "gauge", "Maximum number of open file descriptors."),
)


class ProcessSeries:
    """A registry collector: collect() for prometheus_client, exposition() for /metrics."""

    def __init__(self, proc: str = procfs.PROC) -> None:
        self.stat_path = f"{proc}/self/stat"
        self.fd_path = f"{proc}/self/fd"
        boot = procfs.read(f"{proc}/stat")
        own = self._own()
        self.start_time: float | None = None
        if boot is not None and own is not None:
            booted = procfs.parse_stat(boot).boot_time
            self.start_time = booted + own.start_ticks / procfs.TICKS_PER_SECOND

    def _own(self) -> procfs.ProcessStat | None:
        data = procfs.read(self.stat_path)
        return procfs.parse_process_stat(os.getpid(), data) if data is not None else None

    def families(self) -> list[Family]:
        own = self._own()
        if own is None or self.start_time is None:
            return []
        values = {
            "process_virtual_memory_bytes": float(own.vsize_bytes),
            "process_resident_memory_bytes": float(own.rss_bytes),
            "process_start_time_seconds": self.start_time,
            "process_cpu_seconds_total": own.cpu_ticks / procfs.TICKS_PER_SECOND,
        }
        with contextlib.suppress(OSError):
            values["process_open_fds"] = float(len(os.listdir(self.fd_path)))
        soft_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if soft_limit != resource.RLIM_INFINITY:
            values["process_max_fds"] = float(soft_limit)
        families = []
        for name, kind, help_text in SERIES:
            if name in values:
                family = Family(name, kind, help_text)
                family.add((), values[name])
                families.append(family)
        return families

    def collect(self) -> Iterator[Metric]:
        return metrics_of(self.families())

    def exposition(self) -> str:
        return render_families(self.families())
