"""One reading of the host: the figures the page shows, and the detail only Prometheus gets.

HostReader keeps what a reading is measured against (the CPU baselines, the previous
network and disk totals, each process's CPU time), so it lives on the collector's one
reader thread and is read there once per sample.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

from app.monitor import procfs
from app.monitor.filesystems import FilesystemUsage, read_filesystems
from app.monitor.processes import ProcessTop, TopProcesses


@dataclass(frozen=True)
class HostFigures:
    """The host's part of a sample (see monitor.sample.Sample)."""

    cpu_percent: float
    cpu_percent_per_core: tuple[float, ...]
    memory_percent: float
    memory_used_bytes: int
    memory_total_bytes: int
    disk_path: str
    disk_percent: float
    disk_used_bytes: int
    disk_total_bytes: int
    load_1: float
    load_5: float
    load_15: float
    net_bytes_sent: int
    net_bytes_recv: int
    net_sent_bytes_per_second: float
    net_recv_bytes_per_second: float
    disk_read_bytes_per_second: float
    disk_write_bytes_per_second: float
    top_processes: TopProcesses


@dataclass(frozen=True)
class HostReading:
    figures: HostFigures
    memory_available_bytes: int
    filesystems: tuple[FilesystemUsage, ...] = ()
    # Every /proc/meminfo field as (node_exporter's name, value, whether it is bytes).
    meminfo: tuple[tuple[str, int, bool], ...] = ()
    file_handles: tuple[int, int] | None = None  # allocated, maximum


class Rate:
    """Bytes per second of running totals, since the previous reading."""

    def __init__(self) -> None:
        self._last: tuple[float, tuple[int, ...]] | None = None

    def update(self, *totals: int) -> tuple[float, ...]:
        now = time.monotonic()
        last, self._last = self._last, (now, totals)
        if last is None or now <= last[0]:
            return (0.0,) * len(totals)
        elapsed = now - last[0]
        # A total that went down (a device removed, a counter reset) counts as 0.
        return tuple(
            round(max(0, total - before) / elapsed, 1)
            for total, before in zip(totals, last[1], strict=True)
        )


def disk_totals() -> tuple[int, int]:
    """Bytes read and written, summed over the disks /metrics reports (whole disks, not
    their partitions, so nothing is counted twice)."""
    try:
        disks = psutil.disk_io_counters(perdisk=True, nowrap=True)
    except (OSError, RuntimeError):  # no disks (some containers)
        return 0, 0
    read = written = 0
    for name, counters in disks.items():
        if not procfs.DISK_DEVICES_EXCLUDE.match(name):
            read += counters.read_bytes
            written += counters.write_bytes
    return read, written


class HostReader:
    def __init__(self, disk_path: str) -> None:
        self.disk_path = disk_path
        self._network = Rate()
        self._disks = Rate()
        self._processes = ProcessTop()

    def prime(self) -> None:
        """Set every baseline, one period before the first sample: cpu_percent(), the
        rates and the processes' CPU all measure since the previous call."""
        psutil.cpu_percent(interval=None)
        psutil.cpu_percent(interval=None, percpu=True)
        net = psutil.net_io_counters()
        self._network.update(net.bytes_sent, net.bytes_recv)
        self._disks.update(*disk_totals())
        self._processes.read(psutil.virtual_memory().total)

    def read(self) -> HostReading:
        """Read the host. Blocking: call it from the collector's reader thread."""
        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(self.disk_path)
        load_1, load_5, load_15 = os.getloadavg()
        net = psutil.net_io_counters()
        sent_rate, recv_rate = self._network.update(net.bytes_sent, net.bytes_recv)
        read_rate, write_rate = self._disks.update(*disk_totals())
        figures = HostFigures(
            cpu_percent=psutil.cpu_percent(interval=None),
            cpu_percent_per_core=tuple(psutil.cpu_percent(interval=None, percpu=True)),
            memory_percent=memory.percent,
            memory_used_bytes=memory.total - memory.available,
            memory_total_bytes=memory.total,
            disk_path=self.disk_path,
            disk_percent=disk.percent,
            disk_used_bytes=disk.used,
            disk_total_bytes=disk.total,
            load_1=round(load_1, 2),
            load_5=round(load_5, 2),
            load_15=round(load_15, 2),
            net_bytes_sent=net.bytes_sent,
            net_bytes_recv=net.bytes_recv,
            net_sent_bytes_per_second=sent_rate,
            net_recv_bytes_per_second=recv_rate,
            disk_read_bytes_per_second=read_rate,
            disk_write_bytes_per_second=write_rate,
            top_processes=self._processes.read(memory.total),
        )
        meminfo = procfs.read(f"{procfs.PROC}/meminfo")
        file_nr = procfs.read(f"{procfs.PROC}/sys/fs/file-nr")
        return HostReading(
            figures=figures,
            memory_available_bytes=memory.available,
            filesystems=read_filesystems(self.disk_path),
            meminfo=tuple(procfs.parse_meminfo(meminfo)) if meminfo else (),
            file_handles=procfs.parse_file_nr(file_nr) if file_nr else None,
        )
