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


class CpuPercent:
    """CPU busy share per core and over all cores since the previous reading, from one
    read of /proc/stat, the way psutil.cpu_percent() counts it (busy is everything but
    idle and iowait; guest time is inside user already)."""

    def __init__(self) -> None:
        self._last: list[tuple[int, ...]] | None = None

    def update(self, cpus: tuple[tuple[str, tuple[int, ...]], ...]) -> tuple[float, list[float]]:
        now = [ticks[:8] for _, ticks in cpus]
        last, self._last = self._last, now
        if last is None or len(last) != len(now):
            return 0.0, [0.0] * len(now)
        per_core = []
        busy_sum = total_sum = 0
        for before, after in zip(last, now, strict=True):
            deltas = [max(0, a - b) for a, b in zip(after, before, strict=True)]
            total = sum(deltas)
            busy = total - deltas[3] - deltas[4]  # idle, iowait
            busy_sum += busy
            total_sum += total
            per_core.append(busy_percent(busy, total))
        return busy_percent(busy_sum, total_sum), per_core


def busy_percent(busy: int, total: int) -> float:
    return round(min(100.0, max(0.0, busy / total * 100)), 1) if total > 0 else 0.0


def network_totals() -> tuple[int, int]:
    """Bytes sent and received over all network devices (as psutil.net_io_counters())."""
    data = procfs.read(f"{procfs.PROC}/net/dev")
    if data is None:
        net = psutil.net_io_counters()
        return net.bytes_sent, net.bytes_recv
    devices = procfs.parse_net_dev(data)
    sent = sum(counters[procfs.NET_TRANSMIT_BYTES] for _, counters in devices)
    received = sum(counters[procfs.NET_RECEIVE_BYTES] for _, counters in devices)
    return sent, received


def disk_totals() -> tuple[int, int]:
    """Bytes read and written, summed over the disks /metrics reports (whole disks, not
    their partitions, so nothing is counted twice)."""
    data = procfs.read(f"{procfs.PROC}/diskstats")
    if data is not None:
        disks = procfs.parse_diskstats(data)
        read = sum(counters[procfs.DISK_READ_SECTORS] for _, counters in disks)
        written = sum(counters[procfs.DISK_WRITTEN_SECTORS] for _, counters in disks)
        return read * procfs.SECTOR_BYTES, written * procfs.SECTOR_BYTES
    try:
        counters = psutil.disk_io_counters(perdisk=True, nowrap=True)
    except (OSError, RuntimeError):  # no disks (some containers)
        return 0, 0
    kept = [c for name, c in counters.items() if not procfs.DISK_DEVICES_EXCLUDE.match(name)]
    return sum(c.read_bytes for c in kept), sum(c.write_bytes for c in kept)


@dataclass(frozen=True)
class Memory:
    total: int
    available: int
    percent: float
    meminfo: tuple[tuple[str, int, bool], ...]


def read_memory() -> Memory:
    """Physical memory from /proc/meminfo, with psutil.virtual_memory()'s figures (used is
    total minus available); psutil where there is no /proc."""
    data = procfs.read(f"{procfs.PROC}/meminfo")
    fields = tuple(procfs.parse_meminfo(data)) if data else ()
    values = {name: value for name, value, _ in fields}
    total = values.get("MemTotal")
    available = values.get("MemAvailable")
    if not total or available is None:
        memory = psutil.virtual_memory()
        return Memory(memory.total, memory.available, memory.percent, fields)
    return Memory(total, available, busy_percent(total - available, total), fields)


class HostReader:
    def __init__(self, disk_path: str) -> None:
        self.disk_path = disk_path
        self._cpu = CpuPercent()
        self._network = Rate()
        self._disks = Rate()
        self._processes = ProcessTop()

    def cpu(self) -> tuple[float, tuple[float, ...]]:
        data = procfs.read(f"{procfs.PROC}/stat")
        if data is None:
            return (
                psutil.cpu_percent(interval=None),
                tuple(psutil.cpu_percent(interval=None, percpu=True)),
            )
        total, per_core = self._cpu.update(procfs.parse_stat(data).cpus)
        return total, tuple(per_core)

    def prime(self) -> None:
        """Set every baseline, one period before the first sample: the CPU shares, the
        rates and the processes' CPU all measure since the previous reading."""
        self.cpu()
        self._network.update(*network_totals())
        self._disks.update(*disk_totals())
        self._processes.read(0)  # only the CPU baseline is kept: no memory total needed

    def read(self) -> HostReading:
        """Read the host. Blocking: call it from the collector's reader thread."""
        memory = read_memory()
        cpu_percent, per_core = self.cpu()
        disk = psutil.disk_usage(self.disk_path)
        load_1, load_5, load_15 = os.getloadavg()
        bytes_sent, bytes_recv = network_totals()
        sent_rate, recv_rate = self._network.update(bytes_sent, bytes_recv)
        read_rate, write_rate = self._disks.update(*disk_totals())
        figures = HostFigures(
            cpu_percent=cpu_percent,
            cpu_percent_per_core=per_core,
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
            net_bytes_sent=bytes_sent,
            net_bytes_recv=bytes_recv,
            net_sent_bytes_per_second=sent_rate,
            net_recv_bytes_per_second=recv_rate,
            disk_read_bytes_per_second=read_rate,
            disk_write_bytes_per_second=write_rate,
            top_processes=self._processes.read(memory.total),
        )
        file_nr = procfs.read(f"{procfs.PROC}/sys/fs/file-nr")
        return HostReading(
            figures=figures,
            memory_available_bytes=memory.available,
            filesystems=read_filesystems(self.disk_path),
            meminfo=memory.meminfo,
            file_handles=procfs.parse_file_nr(file_nr) if file_nr else None,
        )
