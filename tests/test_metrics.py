"""/metrics: the host counters, filesystem selection, bounded labels, loop lag, failures."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app import __version__
from app.monitor import exposition, host_collector, procfs
from app.monitor.filesystems import Mount, select_mounts
from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, connect, eventually, publish, subscribe


def series(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """Every sample of one name, keyed by its sorted label pairs."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for metric in registry.collect()
        for sample in metric.samples
        if sample.name == name
    }


def test_filesystem_selection_follows_node_exporter_defaults() -> None:
    mounts = [
        Mount("/dev/vda1", "/", "ext4"),
        Mount("proc", "/proc", "proc"),
        Mount("sysfs", "/sys", "sysfs"),
        Mount("cgroup2", "/sys/fs/cgroup", "cgroup2"),
        Mount("devtmpfs", "/dev", "devtmpfs"),
        Mount("tmpfs", "/dev/shm", "tmpfs"),
        Mount("tmpfs", "/run", "tmpfs"),
        Mount("ramfs", "/run/credentials/getty.service", "ramfs"),
        Mount("overlay", "/var/lib/docker/overlay2/abc/merged", "overlay"),
        Mount("shm", "/var/lib/containers/storage/x/userdata/shm", "tmpfs"),
        Mount("/dev/loop3", "/snap/core/1", "squashfs"),
        Mount("nsfs", "/run/netns/blue", "nsfs"),
        Mount("/dev/vdb", "/data", "xfs"),
        Mount("/dev/vdc", "/data", "ext4"),  # mounted over the first: it is what df sees
    ]
    kept = select_mounts(mounts, "/data/livewatch")
    assert [(m.mountpoint, m.device) for m in kept] == [
        ("/", "/dev/vda1"),
        ("/run", "tmpfs"),
        ("/data", "/dev/vdc"),
    ]


def test_the_filesystem_of_disk_path_is_kept_even_when_excluded() -> None:
    mounts = [Mount("overlay", "/", "overlay"), Mount("proc", "/proc", "proc")]
    assert select_mounts(mounts, "/") == [Mount("overlay", "/", "overlay")]
    assert select_mounts(mounts, "/srv/app") == [Mount("overlay", "/", "overlay")]


async def test_host_counters_are_read_at_scrape_time(client: LivewatchClient) -> None:
    text = await (await client.get("/metrics")).text()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    cpu = families["livewatch_cpu_seconds"]
    assert cpu.type == "counter"
    assert {sample.labels["cpu"] for sample in cpu.samples} == set(proc_stat_cpus())
    modes = {sample.labels["mode"] for sample in cpu.samples}
    assert {"user", "system", "idle"} <= modes
    assert not modes & {"guest", "guest_nice"}, "guest time is already inside user time"
    for name in ("livewatch_network_receive_bytes", "livewatch_network_transmit_bytes"):
        assert families[name].type == "counter"
        assert "lo" in {sample.labels["device"] for sample in families[name].samples}
    boot = families["livewatch_boot_time_seconds"].samples[0].value
    assert 0 < boot < time.time()


async def test_filesystems_carry_device_and_fstype(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    assert series(registry, "livewatch_filesystem_size_bytes") == {}, "no sample taken yet"
    sample = await client.app[keys.COLLECTOR].collect()
    sizes = series(registry, "livewatch_filesystem_size_bytes")
    assert sizes, "the collector's sample feeds the filesystem families"
    labels = [dict(key) for key in sizes]
    assert all(set(label) == {"device", "fstype", "mountpoint"} for label in labels)
    assert sample.disk_path in {label["mountpoint"] for label in labels}
    for ratio in series(registry, "livewatch_filesystem_used_ratio").values():
        assert 0 <= ratio <= 1


async def test_subscription_kinds_stay_bounded(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    ws = await connect(client, "?user_id=u1")
    await subscribe(ws, "scratch-pad")
    await subscribe(ws, "whatever:1")
    kinds = {
        dict(key)["kind"]: value
        for key, value in series(registry, "livewatch_ws_subscriptions").items()
    }
    assert set(kinds) == {"global", "system", "user", "business", "other"}
    assert kinds["other"] == 2
    assert kinds["user"] == 1
    await ws.close()
    await eventually(lambda: registry.get_sample_value("livewatch_ws_connections") == 0)
    assert registry.get_sample_value("livewatch_ws_subscriptions", {"kind": "other"}) == 0


async def test_every_event_type_series_exists_from_the_start(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    events = {dict(key)["event"] for key in series(registry, "livewatch_events_published_total")}
    assert {"task.started", "approval.required", "system.alert", "other"} <= events


async def test_event_loop_lag_is_measured(make_client: AppFactory) -> None:
    client = await make_client()
    registry = client.app[keys.REGISTRY]
    client.app[keys.LOOP_LAG].interval = 0.01
    await eventually(
        lambda: (registry.get_sample_value("livewatch_event_loop_lag_seconds_count") or 0) >= 2
    )
    time.sleep(0.05)  # noqa: ASYNC251 (blocks the loop on purpose: the next wake-up is late)
    await eventually(
        lambda: (registry.get_sample_value("livewatch_event_loop_lag_seconds_sum") or 0) >= 0.03
    )


async def test_collector_failures_are_counted(
    client: LivewatchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> Any:
        raise OSError("no /proc today")

    monkeypatch.setattr(client.app[keys.COLLECTOR].host, "read", broken)
    registry = client.app[keys.REGISTRY]
    before = registry.get_sample_value("livewatch_collector_last_success_timestamp_seconds")
    with pytest.raises(OSError):
        await client.app[keys.COLLECTOR].collect()
    assert registry.get_sample_value("livewatch_collector_failures_total") == 1
    after = registry.get_sample_value("livewatch_collector_last_success_timestamp_seconds")
    assert after == before


async def test_collector_interval_is_exported(make_client: AppFactory) -> None:
    client = await make_client(collector_interval=42.0)
    registry = client.app[keys.REGISTRY]
    assert registry.get_sample_value("livewatch_collector_interval_seconds") == 42.0
    assert registry.get_sample_value("livewatch_build_info", {"version": __version__}) == 1


# --- the host series, node_exporter's names -----------------------------------------------


README = Path(__file__).resolve().parent.parent / "README.md"


def scrape_samples(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of a scrape: name -> sorted label pairs -> value."""
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def proc_stat_cpus() -> list[str]:
    data = procfs.read("/proc/stat")
    assert data is not None
    return [name for name, _ in procfs.parse_stat(data).cpus]


async def test_cpu_seconds_per_cpu_and_mode(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    cpus = proc_stat_cpus()
    assert len(cpus) == psutil.cpu_count()
    seconds = series(registry, "livewatch_cpu_seconds_total")
    assert {dict(key)["cpu"] for key in seconds} == set(cpus)
    assert {dict(key)["mode"] for key in seconds} == set(host_collector.CPU_MODES)
    assert len(seconds) == len(cpus) * len(host_collector.CPU_MODES)
    total_idle = sum(v for key, v in seconds.items() if dict(key)["mode"] == "idle")
    assert total_idle == pytest.approx(psutil.cpu_times().idle, rel=0.01)
    guest = series(registry, "livewatch_cpu_guest_seconds_total")
    assert {dict(key)["mode"] for key in guest} == {"user", "nice"}
    for name in ("livewatch_context_switches_total", "livewatch_forks_total"):
        assert (registry.get_sample_value(name) or 0) > 0, name
    assert (registry.get_sample_value("livewatch_intr_total") or 0) > 0
    assert (registry.get_sample_value("livewatch_procs_running") or 0) >= 1
    assert registry.get_sample_value("livewatch_procs_blocked") is not None
    assert registry.get_sample_value("livewatch_boot_time_seconds") == pytest.approx(
        psutil.boot_time(), abs=1
    )


async def test_memory_swap_and_file_handles_as_node_exporter_names_them(
    client: LivewatchClient,
) -> None:
    registry = client.app[keys.REGISTRY]
    assert registry.get_sample_value("livewatch_memory_mem_total_bytes") is None, "no sample yet"
    await client.app[keys.COLLECTOR].collect()
    memory = psutil.virtual_memory()
    assert registry.get_sample_value("livewatch_memory_mem_total_bytes") == memory.total
    for field in ("mem_available", "mem_free", "buffers", "cached", "swap_total", "swap_free"):
        value = registry.get_sample_value(f"livewatch_memory_{field}_bytes")
        assert value is not None and value >= 0, field
    assert registry.get_sample_value("livewatch_memory_swap_total_bytes") == (
        psutil.swap_memory().total
    )
    assert registry.get_sample_value("livewatch_memory_active_anon_bytes") is not None
    assert registry.get_sample_value("livewatch_memory_huge_pages_pool") is not None, "a count"
    allocated = registry.get_sample_value("livewatch_filefd_allocated")
    maximum = registry.get_sample_value("livewatch_filefd_maximum")
    assert allocated is not None and maximum is not None and 0 < allocated <= maximum


async def test_disks_follow_node_exporter_exclusions(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    data = procfs.read("/proc/diskstats")
    if data is None:
        pytest.skip("no /proc/diskstats here")
    every = {line.split()[2].decode() for line in data.splitlines() if len(line.split()) > 13}
    expected = {name for name in every if not procfs.DISK_DEVICES_EXCLUDE.match(name)}
    for name in (
        "livewatch_disk_reads_completed_total",
        "livewatch_disk_writes_completed_total",
        "livewatch_disk_read_bytes_total",
        "livewatch_disk_written_bytes_total",
        "livewatch_disk_io_time_seconds_total",
        "livewatch_disk_read_time_seconds_total",
        "livewatch_disk_write_time_seconds_total",
        "livewatch_disk_io_now",
    ):
        assert {dict(key)["device"] for key in series(registry, name)} == expected, name
    assert not any(procfs.DISK_DEVICES_EXCLUDE.match(name) for name in expected)


async def test_network_errors_drops_and_packets_per_device(client: LivewatchClient) -> None:
    registry = client.app[keys.REGISTRY]
    devices = set(psutil.net_io_counters(pernic=True))
    for direction in ("receive", "transmit"):
        for what in ("bytes", "packets", "errs", "drop"):
            name = f"livewatch_network_{direction}_{what}_total"
            assert {dict(key)["device"] for key in series(registry, name)} == devices, name
    lo = psutil.net_io_counters(pernic=True)["lo"]
    sent = registry.get_sample_value("livewatch_network_transmit_packets_total", {"device": "lo"})
    assert sent is not None and sent >= lo.packets_sent
    assert registry.get_sample_value("livewatch_devices_omitted", {"kind": "network"}) == 0


async def test_pressure_stall_information_where_the_kernel_has_it(
    client: LivewatchClient,
) -> None:
    registry = client.app[keys.REGISTRY]
    names = {
        "livewatch_pressure_cpu_waiting_seconds_total",
        "livewatch_pressure_memory_waiting_seconds_total",
        "livewatch_pressure_memory_stalled_seconds_total",
        "livewatch_pressure_io_waiting_seconds_total",
        "livewatch_pressure_io_stalled_seconds_total",
    }
    exported = {name for name in names if registry.get_sample_value(name) is not None}
    if procfs.read("/proc/pressure/cpu") is None:
        assert exported == set(), "no /proc/pressure: no pressure series"
    else:
        assert exported == names
    vmstat = {name for name in procfs.VMSTAT_FIELDS if name != "oom_kill"}
    for name in vmstat:
        assert registry.get_sample_value(f"livewatch_vmstat_{name}") is not None, name


def fake_proc(root: Path, network: int, disks: int) -> None:
    """A /proc with `network` network devices and `disks` disks, each with a partition."""
    (root / "net").mkdir(parents=True)
    (root / "pressure").mkdir()
    (root / "stat").write_text(
        "cpu  10 0 10 100 0 0 0 0 0 0\n"
        "cpu0 5 0 5 50 0 0 0 0 0 0\ncpu1 5 0 5 50 0 0 0 0 0 0\n"
        "intr 1234 0 0\nctxt 99\nbtime 1700000000\nprocesses 42\n"
        "procs_running 3\nprocs_blocked 1\n"
    )
    rows = "".join(
        f"  veth{i:03d}: {i} 1 0 0 0 0 0 0 {2 * i} 2 0 0 0 0 0 0\n" for i in range(network)
    )
    (root / "net" / "dev").write_text("Inter-| Receive | Transmit\n face |bytes ...\n" + rows)
    lines = []
    for i in range(disks):
        lines.append(f" 259 {2 * i} nvme{i}n1 1 0 8 1 2 0 16 2 0 3 4")
        lines.append(f" 259 {2 * i + 1} nvme{i}n1p1 1 0 8 1 2 0 16 2 0 3 4")
    lines.append(" 7 0 loop0 1 0 8 1 2 0 16 2 0 3 4")
    (root / "diskstats").write_text("\n".join(lines) + "\n")
    (root / "vmstat").write_text("nr_free_pages 5\npgfault 7\npswpin 0\noom_kill 1\n")
    (root / "pressure" / "cpu").write_text(
        "some avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )


def test_devices_are_bounded_and_partitions_left_out(tmp_path: Path) -> None:
    fake_proc(tmp_path, network=100, disks=3)
    registry = CollectorRegistry()
    collector = host_collector.HostCollector(registry, proc=str(tmp_path))
    received = series(registry, "livewatch_network_receive_bytes_total")
    assert len(received) == host_collector.NETWORK_DEVICE_LIMIT
    assert {dict(key)["device"] for key in received} == {f"veth{i:03d}" for i in range(64)}
    assert registry.get_sample_value("livewatch_devices_omitted", {"kind": "network"}) == 36
    sent = registry.get_sample_value(
        "livewatch_network_transmit_bytes_total", {"device": "veth010"}
    )
    assert sent == 20
    disks = {dict(key)["device"] for key in series(registry, "livewatch_disk_read_bytes_total")}
    assert disks == {"nvme0n1", "nvme1n1", "nvme2n1"}, "partitions and loop devices are left out"
    read = registry.get_sample_value("livewatch_disk_read_bytes_total", {"device": "nvme0n1"})
    assert read == 8 * 512
    busy = registry.get_sample_value("livewatch_disk_io_time_seconds_total", {"device": "nvme1n1"})
    assert busy == 0.003
    assert registry.get_sample_value("livewatch_devices_omitted", {"kind": "disk"}) == 0
    assert (
        registry.get_sample_value("livewatch_cpu_seconds_total", {"cpu": "1", "mode": "idle"})
        == 50 / procfs.TICKS_PER_SECOND
    )
    assert registry.get_sample_value("livewatch_context_switches_total") == 99
    assert registry.get_sample_value("livewatch_intr_total") == 1234
    assert registry.get_sample_value("livewatch_procs_running") == 3
    assert registry.get_sample_value("livewatch_pressure_cpu_waiting_seconds_total") == 2.5
    assert registry.get_sample_value("livewatch_pressure_io_waiting_seconds_total") is None
    assert registry.get_sample_value("livewatch_vmstat_pgfault") == 7
    assert registry.get_sample_value("livewatch_vmstat_oom_kill") == 1
    # The text a scrape gets says the same as collect().
    text = collector.exposition()
    assert scrape_samples(text) == {
        name: values for name, values in scrape_samples(generate_latest(registry).decode()).items()
    }

    many = tmp_path / "many"
    fake_proc(many, network=1, disks=70)
    registry = CollectorRegistry()
    host_collector.HostCollector(registry, proc=str(many))
    assert len(series(registry, "livewatch_disk_read_bytes_total")) == 64
    assert registry.get_sample_value("livewatch_devices_omitted", {"kind": "disk"}) == 6


def test_a_missing_proc_leaves_the_families_out(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    collector = host_collector.HostCollector(registry, proc=str(tmp_path / "nothing"))
    assert collector.exposition().strip() == ""
    assert list(registry.collect()) == []


def test_proc_parsers_read_the_kernel_formats() -> None:
    name_with_parens = b"1234 (a (b) c) S 1 1 1 0 -1 0 0 0 0 0 250 50 0 0 20 0 1 0 777 0 30 0\n"
    process = procfs.parse_process_stat(1234, name_with_parens)
    assert process is not None
    assert (process.name, process.cpu_ticks, process.start_ticks) == ("a (b) c", 300, 777)
    assert process.rss_bytes == 30 * procfs.PAGE_SIZE
    fields = procfs.parse_meminfo(b"MemTotal:  100 kB\nActive(anon):  3 kB\nHugePages_Total: 2\n")
    assert fields == [
        ("MemTotal", 102400, True),
        ("Active_anon", 3072, True),
        ("HugePages_Total", 2, False),
    ]
    assert procfs.parse_file_nr(b"539\t0\t2466177\n") == (539, 2466177)
    assert procfs.parse_pressure(b"some avg10=1.00 avg60=0 avg300=0 total=42\n") == (42, None)
    for name in ("sda1", "nvme0n1p2", "loop3", "ram0", "zram0", "vda1", "xvdb2", "fd0"):
        assert procfs.DISK_DEVICES_EXCLUDE.match(name), name
    for name in ("sda", "nvme0n1", "vda", "dm-0", "md0", "mmcblk0"):
        assert not procfs.DISK_DEVICES_EXCLUDE.match(name), name


# --- scrapes: cheap, and exact where it counts ----------------------------------------------


async def test_a_scrape_within_one_tick_reuses_the_tick_and_reads_counters_anew(
    client: LivewatchClient,
) -> None:
    await client.app[keys.COLLECTOR].collect()
    first = scrape_samples(await (await client.get("/metrics")).text())
    await publish(client, event="task.started", data={}, business_id="b1")
    for _ in range(20):  # context switches of our own, for sure
        await asyncio.sleep(0.005)
    second = scrape_samples(await (await client.get("/metrics")).text())

    # Rendered once per tick: the same text until the next sample.
    for name in ("livewatch_memory_mem_free_bytes", "livewatch_cpu_usage_ratio", "livewatch_load1"):
        assert first[name] == second[name], name
    # Read at scrape time: exact now, so they moved within the tick.
    switches = "livewatch_context_switches_total"
    assert second[switches][()] > first[switches][()]
    started = (("event", "task.started"),)
    published = "livewatch_events_published_total"
    assert second[published][started] == first[published][started] + 1
    assert second["livewatch_cpu_seconds_total"] != first["livewatch_cpu_seconds_total"]

    await client.app[keys.COLLECTOR].collect()
    third = scrape_samples(await (await client.get("/metrics")).text())
    timestamp = "livewatch_collector_last_success_timestamp_seconds"
    assert third[timestamp][()] > second[timestamp][()], "a new tick is rendered anew"


async def test_the_fast_text_says_what_prometheus_client_would(client: LivewatchClient) -> None:
    """Each collector's text, written the fast way, against prometheus_client's own
    generate_latest() of that collector (without the _created series)."""
    await client.app[keys.COLLECTOR].collect()
    ws = await connect(client, "?user_id=u1")
    await subscribe(ws, "system")
    await publish(client, event="task.started", data={}, user_id="u1")
    registry = client.app[keys.REGISTRY]
    fast_ones = 0
    for collector in registry.collectors:
        out: list[str] = []
        fast_ones += exposition.render_client_metric(collector, out)
        if not out:
            continue
        single = CollectorRegistry()
        single.register(collector)
        expected = {
            name: values
            for name, values in scrape_samples(generate_latest(single).decode()).items()
            if not name.endswith("_created")
        }
        assert scrape_samples("".join(out)) == expected, getattr(collector, "_name", collector)
    assert fast_ones >= 10
    await ws.close()


async def test_the_process_series_say_what_prometheus_clients_collector_says(
    client: LivewatchClient,
) -> None:
    """/metrics writes process_* itself (app.monitor.process_metrics); the server runs in
    this test's process, so prometheus_client's ProcessCollector reads the same process."""
    theirs_registry = CollectorRegistry()
    ProcessCollector(registry=theirs_registry)
    before = scrape_samples(generate_latest(theirs_registry).decode())
    ours = scrape_samples(await (await client.get("/metrics")).text())
    after = scrape_samples(generate_latest(theirs_registry).decode())
    process = {name: values[()] for name, values in ours.items() if name.startswith("process_")}
    assert set(process) == set(before), "the same series"
    for name in ("process_start_time_seconds", "process_max_fds"):
        assert process[name] == before[name][()], name
    cpu = "process_cpu_seconds_total"
    assert before[cpu][()] - 1e-9 <= process[cpu] <= after[cpu][()] + 1e-9
    for name in ("process_virtual_memory_bytes", "process_resident_memory_bytes"):
        assert abs(process[name] / after[name][()] - 1) < 0.05, name
    assert process["process_open_fds"] >= 3


async def test_metrics_are_gzipped_for_a_scraper_that_asks(client: LivewatchClient) -> None:
    gzipped = await client.get("/metrics", headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["Content-Encoding"] == "gzip"
    assert gzipped.headers["Content-Type"] == exposition.CONTENT_TYPE
    assert "livewatch_cpu_seconds_total{" in await gzipped.text()
    plain = await client.get("/metrics", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert "# TYPE livewatch_ws_deliveries_total counter" in await plain.text()
    assert "_created" not in await plain.text(), "no _created series, as node_exporter"


async def test_every_exported_family_is_in_the_readme_metrics_table(
    client: LivewatchClient,
) -> None:
    await client.app[keys.COLLECTOR].collect()
    text = await (await client.get("/metrics")).text()
    table = (
        README.read_text().split("| metric | type | labels | meaning |", 1)[1].split("\n\n", 1)[0]
    )
    named = re.findall(r"`(livewatch_[A-Za-z0-9_<>]+)`", table)
    patterns = [re.compile("^" + re.sub(r"<[^>]+>", "[A-Za-z0-9_]+", name) + "$") for name in named]
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("livewatch_"):
            continue
        sample_name = family.samples[0].name if family.type == "counter" else family.name
        assert any(p.match(sample_name) or p.match(family.name) for p in patterns), sample_name


async def test_the_host_text_says_what_its_families_say(client: LivewatchClient) -> None:
    """The templates a scrape fills give the families collect() builds: the same series,
    and the same values for those rendered once per tick."""
    await client.app[keys.COLLECTOR].collect()
    host = client.app[keys.COLLECTOR].metrics.host
    single = CollectorRegistry()
    single.register(host)
    fast = scrape_samples(host.exposition())
    slow = scrape_samples(generate_latest(single).decode())
    assert {name: set(values) for name, values in fast.items()} == {
        name: set(values) for name, values in slow.items()
    }
    for name in ("livewatch_memory_mem_total_bytes", "livewatch_filesystem_size_bytes"):
        assert fast[name] == slow[name], name
    assert len(fast) > 100


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("MemTotal", "mem_total"),
        ("Active(anon)", "active_anon"),
        ("HugePages_Total", "huge_pages_pool"),
        ("HugePages_Free", "huge_pages_free"),
        ("DirectMap2M", "direct_map2m"),
        ("SecPageTables", "secondary_page_tables"),
        ("NFS_Unstable", "nfs_unstable"),
    ],
)
def test_meminfo_fields_get_snake_case_names(field: str, name: str) -> None:
    assert host_collector.meminfo_name(field) == name
