"""Linux's /proc, read and parsed directly: the host counters the scrape reads, and the
figures psutil has no call for (every meminfo field, pressure stall information, file
descriptors, the process table).

Each reader is one or two syscalls and a split, about 10 to 30 us: cheap enough to run on
every scrape, where psutil's equivalents cost several times more. Where a file is missing
(another OS, a kernel without PSI) its reader returns None or an empty result and the
families built from it are left out.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

PROC = "/proc"
# The kernel counts CPU time in USER_HZ ticks (100 on every Linux architecture in use).
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# /proc/diskstats counts sectors of 512 bytes, whatever the device's own sector size.
SECTOR_BYTES = 512

# node_exporter's default --collector.diskstats.device-exclude: partitions, RAM disks, loop
# devices and floppies, so that a disk's traffic is counted once.
DISK_DEVICES_EXCLUDE = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")


def read(path: str) -> bytes | None:
    """The whole file, or None when it cannot be read. os.open/os.read skip the buffered
    file object, which costs more than the read itself for a small /proc file."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError:  # e.g. EOPNOTSUPP from /proc/pressure/* with PSI compiled in but off
        return None
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class Stat:
    """/proc/stat: CPU time per CPU in ticks, and the scheduler's counters."""

    # Per CPU, in /proc/stat's order: user nice system idle iowait irq softirq steal guest
    # guest_nice (older kernels give fewer; missing ones are 0).
    cpus: tuple[tuple[str, tuple[int, ...]], ...]
    context_switches: int
    interrupts: int
    forks: int
    procs_running: int
    procs_blocked: int
    boot_time: int


CPU_FIELDS = 10


def parse_stat(data: bytes) -> Stat:
    cpus: list[tuple[str, tuple[int, ...]]] = []
    values = {b"ctxt": 0, b"intr": 0, b"processes": 0, b"procs_running": 0}
    values.update({b"procs_blocked": 0, b"btime": 0})
    for line in data.split(b"\n"):
        if line.startswith(b"cpu"):
            name, _, rest = line.partition(b" ")
            if name == b"cpu":  # the sum over CPUs: Prometheus adds them up itself
                continue
            ticks = tuple(int(part) for part in rest.split()[:CPU_FIELDS])
            cpus.append((name[3:].decode(), ticks + (0,) * (CPU_FIELDS - len(ticks))))
            continue
        key, _, rest = line.partition(b" ")
        if key in values:
            # intr's first figure is the total; the per-IRQ figures after it are not read.
            first = rest.lstrip().split(b" ", 1)[0]
            values[key] = int(first) if first else 0
    return Stat(
        cpus=tuple(cpus),
        context_switches=values[b"ctxt"],
        interrupts=values[b"intr"],
        forks=values[b"processes"],
        procs_running=values[b"procs_running"],
        procs_blocked=values[b"procs_blocked"],
        boot_time=values[b"btime"],
    )


# /proc/net/dev's columns after the device name.
NET_RECEIVE_BYTES, NET_RECEIVE_PACKETS, NET_RECEIVE_ERRS, NET_RECEIVE_DROP = 0, 1, 2, 3
NET_TRANSMIT_BYTES, NET_TRANSMIT_PACKETS, NET_TRANSMIT_ERRS, NET_TRANSMIT_DROP = 8, 9, 10, 11


def parse_net_dev(data: bytes) -> list[tuple[str, list[int]]]:
    """(device, its 16 counters) per network device, in the kernel's order."""
    devices = []
    for line in data.split(b"\n")[2:]:
        name, colon, rest = line.partition(b":")
        if not colon:
            continue
        devices.append((name.strip().decode(errors="replace"), [int(v) for v in rest.split()]))
    return devices


# /proc/diskstats's columns after major, minor and the device name.
DISK_READS, DISK_READS_MERGED, DISK_READ_SECTORS, DISK_READ_MS = 0, 1, 2, 3
DISK_WRITES, DISK_WRITES_MERGED, DISK_WRITTEN_SECTORS, DISK_WRITE_MS = 4, 5, 6, 7
DISK_IO_NOW, DISK_IO_MS, DISK_IO_WEIGHTED_MS = 8, 9, 10
DISK_FIELDS = 11


def parse_diskstats(data: bytes) -> list[tuple[str, list[int]]]:
    """(device, its first 11 counters) per block device, minus node_exporter's exclusions."""
    disks = []
    for line in data.split(b"\n"):
        parts = line.split()
        if len(parts) < 3 + DISK_FIELDS:
            continue
        name = parts[2].decode(errors="replace")
        if DISK_DEVICES_EXCLUDE.match(name):
            continue
        disks.append((name, [int(v) for v in parts[3 : 3 + DISK_FIELDS]]))
    return disks


def parse_pressure(data: bytes) -> tuple[int, int | None]:
    """Microseconds some tasks waited (`some`) and all tasks stalled (`full`, None where
    the resource has no such line)."""
    some = 0
    full: int | None = None
    for line in data.split(b"\n"):
        kind, _, rest = line.partition(b" ")
        total = rest.rpartition(b"total=")[2]
        if not total:
            continue
        if kind == b"some":
            some = int(total)
        elif kind == b"full":
            full = int(total)
    return some, full


def parse_meminfo(data: bytes) -> list[tuple[str, int, bool]]:
    """(node_exporter's name for the field, its value, whether it is bytes) per field of
    /proc/meminfo: `Active(anon)` is `Active_anon`, and figures in kB are turned to bytes;
    the HugePages_* counts have no unit and stay counts."""
    fields = []
    for line in data.split(b"\n"):
        key, colon, rest = line.partition(b":")
        if not colon:
            continue
        parts = rest.split()
        if not parts:
            continue
        name = key.decode(errors="replace").replace("(", "_").replace(")", "")
        value = int(parts[0])
        in_kb = len(parts) > 1 and parts[1] == b"kB"
        fields.append((name, value * 1024 if in_kb else value, in_kb))
    return fields


def parse_file_nr(data: bytes) -> tuple[int, int]:
    """/proc/sys/fs/file-nr: file handles allocated (first figure) and the most there may
    be (third); the second is always 0 on current kernels."""
    parts = data.split()
    return int(parts[0]), int(parts[2])


VMSTAT_FIELDS = ("oom_kill", "pgfault", "pgmajfault", "pgpgin", "pgpgout", "pswpin", "pswpout")
VMSTAT_KEYS = tuple((name, b"\n" + name.encode() + b" ") for name in VMSTAT_FIELDS)


def parse_vmstat(data: bytes) -> list[tuple[str, int]]:
    """The fields of /proc/vmstat that node_exporter reports by default (faults, paging,
    swapping, OOM kills). A search per field: the file has some 180 lines."""
    data = b"\n" + data
    found = []
    for name, key in VMSTAT_KEYS:
        start = data.find(key)
        if start >= 0:
            start += len(key)
            end = data.find(b"\n", start)
            found.append((name, int(data[start : end if end >= 0 else len(data)])))
    return found


@dataclass(frozen=True, slots=True)
class ProcessStat:
    pid: int
    start_ticks: int  # when it started, in ticks since boot: (pid, start) names it uniquely
    cpu_ticks: int  # user + system time
    rss_bytes: int
    vsize_bytes: int
    stat: bytes  # the whole line, for the name of the few that are shown

    @property
    def name(self) -> str:
        """The kernel's name of the process: it sits in parentheses and may hold spaces or
        parentheses itself, so it ends at the last ')'."""
        stat = self.stat
        return stat[stat.find(b"(") + 1 : stat.rfind(b")")].decode(errors="replace")


def parse_process_stat(pid: int, data: bytes) -> ProcessStat | None:
    """/proc/PID/stat, its fields counted from the last ')' (the name's end)."""
    close = data.rfind(b")")
    if close < 0:
        return None
    fields = data[close + 2 :].split(None, 22)
    if len(fields) < 22:
        return None
    # fields[0] is field 3 (state) of proc(5): utime 14, stime 15, starttime 22, rss 24.
    return ProcessStat(
        pid=pid,
        start_ticks=int(fields[19]),
        cpu_ticks=int(fields[11]) + int(fields[12]),
        rss_bytes=int(fields[21]) * PAGE_SIZE,
        vsize_bytes=int(fields[20]),
        stat=data,
    )


def read_processes(proc: str = PROC) -> list[ProcessStat]:
    """Every process /proc lists, one read of /proc/PID/stat each (a few hundred bytes:
    one os.read takes it whole); those that end while the table is read are left out."""
    found = []
    try:
        entries = os.listdir(proc)
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            fd = os.open(f"{proc}/{entry}/stat", os.O_RDONLY)
        except OSError:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:
            continue
        finally:
            os.close(fd)
        process = parse_process_stat(int(entry), data)
        if process is not None:
            found.append(process)
    return found
