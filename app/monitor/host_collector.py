"""The host's Prometheus series, under node_exporter's names with the livewatch_ prefix.

Two kinds, each made the cheapest way it can be while staying exact:

- **Per tick.** What the collector's sample read (CPU utilisation, every meminfo field,
  file handles, load, filesystems) changes once per collector tick, so it is rendered to
  text once per tick (`observe`), and a scrape only copies that text. Filesystems come
  from the sample, read in the reader thread: a hung network mount then stalls the
  collector (and its stall alert fires) rather than the scrape.
- **Per scrape.** The OS keeps CPU time, context switches, forks, interrupts, network and
  disk traffic and pressure stalls as running totals: they are read from /proc when
  Prometheus scrapes (a handful of small reads) and written straight out, so each counter
  is exact at the moment of the scrape.

Every label takes a bounded set of values: `cpu` and `mode` by the machine; `device` of
the network and disk families by the first NETWORK_DEVICE_LIMIT and DISK_DEVICE_LIMIT
devices in name order (disks minus node_exporter's exclusions: partitions, RAM disks,
loop devices), with `livewatch_devices_omitted` saying how many were left out; the
filesystem labels by node_exporter's mount exclusions (see monitor.filesystems).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from app.monitor import procfs
from app.monitor.exposition import Family, metrics_of, render_families
from app.monitor.filesystems import FilesystemUsage
from app.monitor.host_reading import HostReading

NETWORK_DEVICE_LIMIT = 64
DISK_DEVICE_LIMIT = 64

# /proc/stat's CPU columns, in order, as node_exporter names them. The kernel counts guest
# time inside user (and guest_nice inside nice), so the guest modes get a family of their
# own rather than a mode of livewatch_cpu_seconds_total that Prometheus would add twice.
CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
GUEST_MODES = (("user", 8), ("nice", 9))

DEVICE = ("device",)
NETWORK_FAMILIES = (
    ("livewatch_network_receive_bytes_total", "Bytes received", procfs.NET_RECEIVE_BYTES),
    ("livewatch_network_receive_packets_total", "Packets received", procfs.NET_RECEIVE_PACKETS),
    ("livewatch_network_receive_errs_total", "Receive errors", procfs.NET_RECEIVE_ERRS),
    (
        "livewatch_network_receive_drop_total",
        "Received packets dropped",
        procfs.NET_RECEIVE_DROP,
    ),
    ("livewatch_network_transmit_bytes_total", "Bytes sent", procfs.NET_TRANSMIT_BYTES),
    ("livewatch_network_transmit_packets_total", "Packets sent", procfs.NET_TRANSMIT_PACKETS),
    ("livewatch_network_transmit_errs_total", "Transmit errors", procfs.NET_TRANSMIT_ERRS),
    (
        "livewatch_network_transmit_drop_total",
        "Packets dropped on transmit",
        procfs.NET_TRANSMIT_DROP,
    ),
)
MS = 0.001
DISK_FAMILIES: tuple[tuple[str, str, int, float | None], ...] = (
    # name, help, /proc/diskstats column, scale (None: keep the integer)
    ("livewatch_disk_reads_completed_total", "Reads completed.", procfs.DISK_READS, None),
    ("livewatch_disk_reads_merged_total", "Reads merged.", procfs.DISK_READS_MERGED, None),
    (
        "livewatch_disk_read_bytes_total",
        "Bytes read.",
        procfs.DISK_READ_SECTORS,
        procfs.SECTOR_BYTES,
    ),
    (
        "livewatch_disk_read_time_seconds_total",
        "Seconds spent by all reads.",
        procfs.DISK_READ_MS,
        MS,
    ),
    ("livewatch_disk_writes_completed_total", "Writes completed.", procfs.DISK_WRITES, None),
    ("livewatch_disk_writes_merged_total", "Writes merged.", procfs.DISK_WRITES_MERGED, None),
    (
        "livewatch_disk_written_bytes_total",
        "Bytes written.",
        procfs.DISK_WRITTEN_SECTORS,
        procfs.SECTOR_BYTES,
    ),
    (
        "livewatch_disk_write_time_seconds_total",
        "Seconds spent by all writes.",
        procfs.DISK_WRITE_MS,
        MS,
    ),
    (
        "livewatch_disk_io_time_seconds_total",
        "Seconds the device spent doing I/O.",
        procfs.DISK_IO_MS,
        MS,
    ),
    (
        "livewatch_disk_io_time_weighted_seconds_total",
        "Seconds spent doing I/O, weighted by the number of I/Os in progress.",
        procfs.DISK_IO_WEIGHTED_MS,
        MS,
    ),
)
PRESSURE = (
    # resource, family of its `some` line, family of its `full` line (None: not exported)
    ("cpu", "livewatch_pressure_cpu_waiting_seconds_total", None),
    (
        "memory",
        "livewatch_pressure_memory_waiting_seconds_total",
        "livewatch_pressure_memory_stalled_seconds_total",
    ),
    (
        "io",
        "livewatch_pressure_io_waiting_seconds_total",
        "livewatch_pressure_io_stalled_seconds_total",
    ),
)
PRESSURE_HELP = {
    "waiting": "Seconds in which at least one task waited for {resource} (PSI `some`).",
    "stalled": "Seconds in which every non-idle task stalled on {resource} (PSI `full`).",
}
FILESYSTEM_LABELS = ("device", "fstype", "mountpoint")
NOT_IN_A_NAME = re.compile(r"[^A-Za-z0-9_]")


def bounded(
    devices: list[tuple[str, list[int]]], limit: int
) -> tuple[list[tuple[str, list[int]]], int]:
    """The first `limit` devices in name order, and how many were left out."""
    if len(devices) <= limit:
        return sorted(devices), 0
    return sorted(devices)[:limit], len(devices) - limit


class HostCollector:
    def __init__(self, registry: CollectorRegistry, proc: str = procfs.PROC) -> None:
        self.proc = proc
        self.filesystems: tuple[FilesystemUsage, ...] = ()
        self._tick_families: list[Family] = []
        self._tick_text = ""
        registry.register(self)

    # --- per tick -------------------------------------------------------------------

    def observe(self, reading: HostReading) -> None:
        """Take the collector's latest reading; render its families once, for every
        scrape until the next one."""
        self.filesystems = reading.filesystems
        self._tick_families = tick_families(reading)
        self._tick_text = render_families(self._tick_families)

    # --- per scrape -----------------------------------------------------------------

    def scrape_families(self) -> list[Family]:
        families: list[Family] = []
        omitted = Family(
            "livewatch_devices_omitted",
            "gauge",
            "Network devices and disks left out of the per-device families, past the limit "
            "of devices each reports.",
            ("kind",),
        )
        stat = procfs.read(f"{self.proc}/stat")
        if stat is not None:
            families += stat_families(procfs.parse_stat(stat))
        net_dev = procfs.read(f"{self.proc}/net/dev")
        if net_dev is not None:
            devices, left_out = bounded(procfs.parse_net_dev(net_dev), NETWORK_DEVICE_LIMIT)
            families += network_families(devices)
            omitted.add(("network",), left_out)
        diskstats = procfs.read(f"{self.proc}/diskstats")
        if diskstats is not None:
            disks, left_out = bounded(procfs.parse_diskstats(diskstats), DISK_DEVICE_LIMIT)
            families += disk_families(disks)
            omitted.add(("disk",), left_out)
        families.append(omitted)
        vmstat = procfs.read(f"{self.proc}/vmstat")
        if vmstat is not None:
            families += [
                Family(
                    f"livewatch_vmstat_{key}",
                    "untyped",
                    f"/proc/vmstat information field {key}.",
                    samples=[((), value)],
                )
                for key, value in procfs.parse_vmstat(vmstat)
            ]
        families += self.pressure_families()
        return families

    def pressure_families(self) -> list[Family]:
        families = []
        for resource, some_name, full_name in PRESSURE:
            data = procfs.read(f"{self.proc}/pressure/{resource}")
            if data is None:
                continue
            some, full = procfs.parse_pressure(data)
            help_text = PRESSURE_HELP["waiting"].format(resource=resource)
            families.append(Family(some_name, "counter", help_text, samples=[((), some / 1e6)]))
            if full_name is not None and full is not None:
                help_text = PRESSURE_HELP["stalled"].format(resource=resource)
                families.append(Family(full_name, "counter", help_text, samples=[((), full / 1e6)]))
        return families

    # --- the two ways out -----------------------------------------------------------

    def exposition(self) -> str:
        """The text /metrics serves: this tick's rendering and the counters read now."""
        return self._tick_text + render_families(self.scrape_families())

    def collect(self) -> Iterable[Metric]:
        yield from metrics_of(self._tick_families)
        yield from metrics_of(self.scrape_families())


def stat_families(stat: procfs.Stat) -> list[Family]:
    hz = procfs.TICKS_PER_SECOND
    cpu = Family(
        "livewatch_cpu_seconds_total",
        "counter",
        "Seconds each CPU spent in each mode (guest time is inside user and nice).",
        ("cpu", "mode"),
    )
    guest = Family(
        "livewatch_cpu_guest_seconds_total",
        "counter",
        "Seconds each CPU spent running virtual CPUs of guests, already counted in user "
        "and nice of livewatch_cpu_seconds_total.",
        ("cpu", "mode"),
    )
    for name, ticks in stat.cpus:
        add = cpu.samples.append
        for index, mode in enumerate(CPU_MODES):
            add(((name, mode), ticks[index] / hz))
        for mode, index in GUEST_MODES:
            guest.samples.append(((name, mode), ticks[index] / hz))

    def one(name: str, kind: str, help_text: str, value: float) -> Family:
        return Family(
            name, "counter" if kind == "counter" else "gauge", help_text, (), [((), value)]
        )

    return [
        cpu,
        guest,
        one(
            "livewatch_context_switches_total",
            "counter",
            "Context switches since boot.",
            stat.context_switches,
        ),
        one("livewatch_forks_total", "counter", "Processes and threads created.", stat.forks),
        one("livewatch_intr_total", "counter", "Interrupts serviced.", stat.interrupts),
        one("livewatch_procs_running", "gauge", "Tasks in runnable state.", stat.procs_running),
        one(
            "livewatch_procs_blocked", "gauge", "Tasks blocked waiting for I/O.", stat.procs_blocked
        ),
        one("livewatch_boot_time_seconds", "gauge", "Unix time the host booted.", stat.boot_time),
    ]


def network_families(devices: list[tuple[str, list[int]]]) -> list[Family]:
    families = []
    for name, help_text, column in NETWORK_FAMILIES:
        family = Family(name, "counter", f"{help_text} by each network device.", DEVICE)
        add = family.samples.append
        for device, counters in devices:
            add(((device,), counters[column]))
        families.append(family)
    return families


def disk_families(disks: list[tuple[str, list[int]]]) -> list[Family]:
    families = []
    for name, help_text, column, scale in DISK_FAMILIES:
        family = Family(name, "counter", f"{help_text[:-1]}, per disk.", DEVICE)
        add = family.samples.append
        for device, counters in disks:
            value = counters[column]
            add(((device,), value if scale is None else value * scale))
        families.append(family)
    io_now = Family("livewatch_disk_io_now", "gauge", "I/Os in progress, per disk.", DEVICE)
    for device, counters in disks:
        io_now.add((device,), counters[procfs.DISK_IO_NOW])
    families.append(io_now)
    return families


def gauge(name: str, help_text: str, value: float) -> Family:
    return Family(name, "gauge", help_text, (), [((), value)])


def tick_families(reading: HostReading) -> list[Family]:
    host = reading.figures
    families = [
        gauge(
            "livewatch_cpu_usage_ratio",
            "Share of CPU time spent busy across all cores since the previous sample (0-1).",
            host.cpu_percent / 100,
        ),
        gauge("livewatch_memory_total_bytes", "Total physical memory.", host.memory_total_bytes),
        gauge(
            "livewatch_memory_available_bytes",
            "Memory available to new processes without swapping.",
            reading.memory_available_bytes,
        ),
        gauge(
            "livewatch_memory_used_bytes",
            "Memory in use: total minus available.",
            host.memory_used_bytes,
        ),
        gauge(
            "livewatch_memory_used_ratio",
            "Memory in use as a share of total (0-1).",
            host.memory_percent / 100,
        ),
    ]
    for field, value, in_bytes in reading.meminfo:
        name = NOT_IN_A_NAME.sub("_", field) + ("_bytes" if in_bytes else "")
        families.append(
            gauge(f"livewatch_memory_{name}", f"Memory information field {name}.", value)
        )
    if reading.file_handles is not None:
        allocated, maximum = reading.file_handles
        families.append(gauge("livewatch_filefd_allocated", "File handles allocated.", allocated))
        families.append(
            gauge("livewatch_filefd_maximum", "Most file handles there may be.", maximum)
        )
    for window, load in ((1, host.load_1), (5, host.load_5), (15, host.load_15)):
        families.append(gauge(f"livewatch_load{window}", f"{window}-minute load average.", load))
    families += filesystem_families(reading.filesystems)
    return families


def filesystem_families(filesystems: tuple[FilesystemUsage, ...]) -> list[Family]:
    def family(name: str, help_text: str) -> Family:
        return Family(f"livewatch_filesystem_{name}", "gauge", help_text, FILESYSTEM_LABELS)

    size = family("size_bytes", "Filesystem size.")
    free = family("free_bytes", "Filesystem space free, including the blocks reserved for root.")
    avail = family("avail_bytes", "Filesystem space available to unprivileged users.")
    used_ratio = family(
        "used_ratio",
        "Filesystem space used as a share of what unprivileged users can use (0-1), as "
        "df's Use% and the built-in disk alert.",
    )
    readonly = family("readonly", "1 if the filesystem is mounted read-only, else 0.")
    files = family("files", "Inodes the filesystem has.")
    files_free = family("files_free", "Inodes free.")
    for fs in filesystems:
        labels = (fs.device, fs.fstype, fs.mountpoint)
        size.add(labels, fs.size_bytes)
        free.add(labels, fs.free_bytes)
        avail.add(labels, fs.avail_bytes)
        used_ratio.add(labels, fs.used_ratio)
        readonly.add(labels, 1 if fs.readonly else 0)
        files.add(labels, fs.files)
        files_free.add(labels, fs.files_free)
    return [size, free, avail, used_ratio, readonly, files, files_free]
