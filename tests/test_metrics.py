"""/metrics: the host counters, filesystem selection, bounded labels, loop lag, failures."""

from __future__ import annotations

import time
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from app import __version__
from app.monitor import collector as collector_module
from app.monitor.filesystems import Mount, select_mounts
from app.web import keys
from tests.conftest import AppFactory, LivewatchClient, connect, eventually, subscribe


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
    def broken(disk_path: str) -> Any:
        raise OSError("no /proc today")

    monkeypatch.setattr(collector_module, "read_host", broken)
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
