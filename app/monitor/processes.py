"""The busiest processes: the top ten by CPU and the top ten by memory, for the page.

Read once per sample on the collector's reader thread, straight from /proc/PID/stat (one
read per process, about 15 us each: psutil's process_iter costs four to five times as
much). CPU is the share of one core each process used since the previous sample, as `top`
shows it (a process with several busy threads goes past 100). Never a Prometheus series:
pids and names are unbounded.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass

from app.monitor import procfs

TOP = 10


@dataclass(frozen=True)
class TopProcess:
    pid: int
    name: str
    cpu_percent: float  # of one core, since the previous sample
    memory_percent: float  # resident memory as a share of physical memory
    rss_bytes: int


@dataclass(frozen=True)
class TopProcesses:
    by_cpu: tuple[TopProcess, ...]
    by_memory: tuple[TopProcess, ...]


NO_PROCESSES = TopProcesses((), ())


class ProcessTop:
    """Keeps each process's CPU time from one reading to the next, keyed by pid and start
    time so that a reused pid starts afresh."""

    def __init__(self, limit: int = TOP, proc: str = procfs.PROC) -> None:
        self.limit = limit
        self.proc = proc
        self._cpu_ticks: dict[tuple[int, int], int] = {}
        self._taken_at: float | None = None

    def read(self, memory_total_bytes: int) -> TopProcesses:
        now = time.monotonic()
        table = procfs.read_processes(self.proc)
        elapsed = now - self._taken_at if self._taken_at is not None else 0.0
        previous = self._cpu_ticks
        ticks_to_percent = 100 / procfs.TICKS_PER_SECOND / elapsed if elapsed > 0 else 0.0
        cpu: dict[int, float] = {}
        current: dict[tuple[int, int], int] = {}
        for process in table:
            key = (process.pid, process.start_ticks)
            current[key] = process.cpu_ticks
            before = previous.get(key)
            used = process.cpu_ticks - before if before is not None else 0
            cpu[process.pid] = max(0, used) * ticks_to_percent
        self._cpu_ticks = current
        self._taken_at = now

        def entry(process: procfs.ProcessStat) -> TopProcess:
            share = process.rss_bytes / memory_total_bytes * 100 if memory_total_bytes else 0.0
            return TopProcess(
                pid=process.pid,
                name=process.name,
                cpu_percent=round(cpu[process.pid], 1),
                memory_percent=round(share, 2),
                rss_bytes=process.rss_bytes,
            )

        by_cpu = heapq.nlargest(self.limit, table, key=lambda p: (cpu[p.pid], p.rss_bytes))
        by_memory = heapq.nlargest(self.limit, table, key=lambda p: (p.rss_bytes, cpu[p.pid]))
        return TopProcesses(
            by_cpu=tuple(entry(p) for p in by_cpu),
            by_memory=tuple(entry(p) for p in by_memory),
        )
