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
from collections.abc import Hashable, Iterable

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric

from app.monitor import procfs
from app.monitor.exposition import Family, metrics_of
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
WORD_START = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Fields whose snake_case promtool would still refuse: a `_total` that is not a counter,
# `sec` read as an abbreviated unit.
MEMINFO_RENAMED = {"HugePages_Total": "huge_pages_pool", "SecPageTables": "secondary_page_tables"}


def meminfo_name(field: str) -> str:
    """A /proc/meminfo field as a metric name part: node_exporter's field, in the
    snake_case promtool asks for (MemTotal: mem_total, Active(anon): active_anon,
    DirectMap2M: direct_map2m)."""
    if field in MEMINFO_RENAMED:
        return MEMINFO_RENAMED[field]
    words = WORD_START.sub("_", NOT_IN_A_NAME.sub("_", field))
    return re.sub(r"_+", "_", words).strip("_").lower()


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
        self._reading: HostReading | None = None
        self._tick_text = ""
        self._templates: dict[tuple[str, Hashable], str] = {}
        registry.register(self)

    # --- per tick -------------------------------------------------------------------

    def observe(self, reading: HostReading) -> None:
        """Take the collector's latest reading and render its text once, for every scrape
        until the next one (through a template made once per shape: the meminfo fields and
        the filesystems hardly change)."""
        self._reading = reading
        key = ("tick", tick_shape(reading))
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = make_template(tick_families(reading))
        self._tick_text = template % tuple(tick_values(reading))

    # --- per scrape -----------------------------------------------------------------

    def scrape_families(self) -> list[Family]:
        """The families read from /proc now, as objects (for registry.collect())."""
        families: list[Family] = []
        for source in self._read_sources():
            families += source.families()
        return families

    def scrape_text(self) -> str:
        """The same families as text, the fast way: each source's text is a template made
        once per shape (its CPUs, devices, fields) and filled with the values read now, in
        one formatting operation."""
        out = []
        for source in self._read_sources():
            key = (source.name, source.shape)
            template = self._templates.get(key)
            if template is None:
                if len(self._templates) >= TEMPLATE_LIMIT:
                    self._templates.clear()
                template = self._templates[key] = make_template(source.families())
            out.append(template % tuple(source.values()))
        return "".join(out)

    def _read_sources(self) -> list[Source]:
        sources: list[Source] = []
        omitted: list[tuple[str, int]] = []
        stat = procfs.read(f"{self.proc}/stat")
        if stat is not None:
            sources.append(StatSource(procfs.parse_stat(stat)))
        net_dev = procfs.read(f"{self.proc}/net/dev")
        if net_dev is not None:
            devices, left_out = bounded(procfs.parse_net_dev(net_dev), NETWORK_DEVICE_LIMIT)
            sources.append(NetworkSource(devices))
            omitted.append(("network", left_out))
        diskstats = procfs.read(f"{self.proc}/diskstats")
        if diskstats is not None:
            disks, left_out = bounded(procfs.parse_diskstats(diskstats), DISK_DEVICE_LIMIT)
            sources.append(DiskSource(disks))
            omitted.append(("disk", left_out))
        if omitted:
            sources.append(OmittedSource(omitted))
        vmstat = procfs.read(f"{self.proc}/vmstat")
        if vmstat is not None:
            sources.append(VmstatSource(procfs.parse_vmstat(vmstat)))
        pressure = []
        for resource, _, _ in PRESSURE:
            data = procfs.read(f"{self.proc}/pressure/{resource}")
            if data is not None:
                pressure.append((resource, *procfs.parse_pressure(data)))
        if pressure:
            sources.append(PressureSource(pressure))
        return sources

    # --- the two ways out -----------------------------------------------------------

    def exposition(self) -> str:
        """The text /metrics serves: this tick's rendering and the counters read now."""
        return self._tick_text + self.scrape_text()

    def collect(self) -> Iterable[Metric]:
        if self._reading is not None:
            yield from metrics_of(tick_families(self._reading))
        yield from metrics_of(self.scrape_families())


TEMPLATE_LIMIT = 256
MARK = "\x00"


def make_template(families: list[Family]) -> str:
    """The families' text with a %s where each value goes, in the order of their samples."""
    out: list[str] = []
    for family in families:
        family.render(out, lambda _: MARK)
    return "".join(out).replace("%", "%%").replace(MARK, "%s")


class Source:
    """One /proc file read for a scrape: its shape (what its template depends on), its
    values in the order of its families' samples, and those families."""

    name = ""
    shape: Hashable = ()

    def values(self) -> list[float]:
        raise NotImplementedError

    def families(self) -> list[Family]:
        raise NotImplementedError


class StatSource(Source):
    name = "stat"

    def __init__(self, stat: procfs.Stat) -> None:
        self.stat = stat
        self.shape = tuple(name for name, _ in stat.cpus)

    def values(self) -> list[float]:
        hz = procfs.TICKS_PER_SECOND
        stat = self.stat
        values: list[float] = [tick / hz for _, ticks in stat.cpus for tick in ticks[:8]]
        values += [ticks[index] / hz for _, ticks in stat.cpus for _, index in GUEST_MODES]
        values += [stat.context_switches, stat.forks, stat.interrupts]
        values += [stat.procs_running, stat.procs_blocked, stat.boot_time]
        return values

    def families(self) -> list[Family]:
        return stat_families(self.stat)


class NetworkSource(Source):
    name = "network"

    def __init__(self, devices: list[tuple[str, list[int]]]) -> None:
        self.devices = devices
        self.shape = tuple(device for device, _ in devices)

    def values(self) -> list[float]:
        return [
            counters[column] for _, _, column in NETWORK_FAMILIES for _, counters in self.devices
        ]

    def families(self) -> list[Family]:
        return network_families(self.devices)


class DiskSource(Source):
    name = "disk"

    def __init__(self, disks: list[tuple[str, list[int]]]) -> None:
        self.disks = disks
        self.shape = tuple(disk for disk, _ in disks)

    def values(self) -> list[float]:
        values: list[float] = []
        for _, _, column, scale in DISK_FAMILIES:
            if scale is None:
                values += [counters[column] for _, counters in self.disks]
            else:
                values += [counters[column] * scale for _, counters in self.disks]
        values += [counters[procfs.DISK_IO_NOW] for _, counters in self.disks]
        return values

    def families(self) -> list[Family]:
        return disk_families(self.disks)


class OmittedSource(Source):
    name = "omitted"

    def __init__(self, omitted: list[tuple[str, int]]) -> None:
        self.omitted = omitted
        self.shape = tuple(kind for kind, _ in omitted)

    def values(self) -> list[float]:
        return [count for _, count in self.omitted]

    def families(self) -> list[Family]:
        family = Family(
            "livewatch_devices_omitted",
            "gauge",
            "Network devices and disks left out of the per-device families, past the limit "
            "of devices each reports.",
            ("kind",),
        )
        for kind, count in self.omitted:
            family.add((kind,), count)
        return [family]


class VmstatSource(Source):
    name = "vmstat"

    def __init__(self, fields: list[tuple[str, int]]) -> None:
        self.fields = fields
        self.shape = tuple(key for key, _ in fields)

    def values(self) -> list[float]:
        return [value for _, value in self.fields]

    def families(self) -> list[Family]:
        return [
            Family(
                f"livewatch_vmstat_{key}",
                "untyped",
                f"/proc/vmstat information field {key}.",
                samples=[((), value)],
            )
            for key, value in self.fields
        ]


class PressureSource(Source):
    name = "pressure"

    def __init__(self, readings: list[tuple[str, int, int | None]]) -> None:
        self.readings = readings
        self.shape = tuple((resource, full is not None) for resource, _, full in readings)

    def values(self) -> list[float]:
        values = []
        for resource, some, full in self.readings:
            values.append(some / 1e6)
            if full is not None and FULL_FAMILY[resource] is not None:
                values.append(full / 1e6)
        return values

    def families(self) -> list[Family]:
        families = []
        for resource, some, full in self.readings:
            help_text = PRESSURE_HELP["waiting"].format(resource=resource)
            families.append(
                Family(SOME_FAMILY[resource], "counter", help_text, samples=[((), some / 1e6)])
            )
            full_name = FULL_FAMILY[resource]
            if full_name is not None and full is not None:
                help_text = PRESSURE_HELP["stalled"].format(resource=resource)
                families.append(Family(full_name, "counter", help_text, samples=[((), full / 1e6)]))
        return families


SOME_FAMILY = {resource: some for resource, some, _ in PRESSURE}
FULL_FAMILY = {resource: full for resource, _, full in PRESSURE}


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
        name = meminfo_name(field) + ("_bytes" if in_bytes else "")
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


def tick_shape(reading: HostReading) -> Hashable:
    return (
        tuple(field for field, _, _ in reading.meminfo),
        reading.file_handles is not None,
        tuple((fs.device, fs.fstype, fs.mountpoint) for fs in reading.filesystems),
    )


def tick_values(reading: HostReading) -> list[float]:
    """The values of tick_families(reading), in the order of their samples."""
    host = reading.figures
    values: list[float] = [
        host.cpu_percent / 100,
        host.memory_total_bytes,
        reading.memory_available_bytes,
        host.memory_used_bytes,
        host.memory_percent / 100,
    ]
    values += [value for _, value, _ in reading.meminfo]
    if reading.file_handles is not None:
        values += reading.file_handles
    values += [host.load_1, host.load_5, host.load_15]
    filesystems = reading.filesystems
    values += [fs.size_bytes for fs in filesystems]
    values += [fs.free_bytes for fs in filesystems]
    values += [fs.avail_bytes for fs in filesystems]
    values += [fs.used_ratio for fs in filesystems]
    values += [1 if fs.readonly else 0 for fs in filesystems]
    values += [fs.files for fs in filesystems]
    values += [fs.files_free for fs in filesystems]
    return values


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
