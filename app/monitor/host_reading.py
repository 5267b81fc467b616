"""One reading of the host with psutil: the figures the page shows, and the detail only
Prometheus gets."""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from app.monitor.filesystems import FilesystemUsage, read_filesystems


@dataclass(frozen=True)
class HostFigures:
    """The host's part of a sample (see monitor.sample.Sample)."""

    cpu_percent: float
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


@dataclass(frozen=True)
class HostReading:
    figures: HostFigures
    memory_available_bytes: int
    filesystems: tuple[FilesystemUsage, ...] = ()


def prime_cpu_percent() -> None:
    """The first cpu_percent(interval=None) call only sets the baseline; make it early."""
    psutil.cpu_percent(interval=None)


def read_host(disk_path: str) -> HostReading:
    """Read the host with psutil. Blocking: call it from the collector's reader thread."""
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(disk_path)
    load_1, load_5, load_15 = os.getloadavg()
    net = psutil.net_io_counters()
    figures = HostFigures(
        cpu_percent=psutil.cpu_percent(interval=None),
        memory_percent=memory.percent,
        memory_used_bytes=memory.total - memory.available,
        memory_total_bytes=memory.total,
        disk_path=disk_path,
        disk_percent=disk.percent,
        disk_used_bytes=disk.used,
        disk_total_bytes=disk.total,
        load_1=round(load_1, 2),
        load_5=round(load_5, 2),
        load_15=round(load_15, 2),
        net_bytes_sent=net.bytes_sent,
        net_bytes_recv=net.bytes_recv,
    )
    return HostReading(
        figures=figures,
        memory_available_bytes=memory.available,
        filesystems=read_filesystems(disk_path),
    )
