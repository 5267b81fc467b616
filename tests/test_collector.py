"""The collector: one real host sample feeds the JSON API, the system channel and Prometheus."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

import psutil
import pytest

from app.monitor import host_reading, procfs
from app.monitor.sample import SAMPLE_FIELDS
from app.web import keys
from tests.conftest import (
    AppFactory,
    LivewatchClient,
    connect,
    eventually,
    next_frame,
    next_of,
    subscribe,
)
from tests.rawws import RawWebSocket


async def test_metrics_endpoint_and_event_carry_the_same_keys(client: LivewatchClient) -> None:
    ws = await connect(client)
    await subscribe(ws, "system")
    await client.app[keys.COLLECTOR].collect()
    event = await next_of(ws, "event")
    assert (event["channel"], event["event"]) == ("system", "system.metric")
    served = await (await client.get("/api/monitoring/metrics")).json()
    assert set(event["data"]) == set(served) == set(SAMPLE_FIELDS)
    assert event["data"] == served, "the endpoint serves the very sample that was pushed"
    for field in ("cpu_percent", "memory_percent", "disk_percent"):
        assert 0 <= served[field] <= 100
    assert served["memory_total_bytes"] > served["memory_used_bytes"] > 0
    assert served["active_connections"] == 1


async def test_samples_do_not_go_to_global(client: LivewatchClient) -> None:
    ws = await connect(client)
    await client.app[keys.COLLECTOR].collect()
    await ws.send_json({"type": "ping"})
    # Frames keep their order, so a sample routed to global would arrive before the pong.
    # (A CPU alert may: the host can be busy when the sample is taken.)
    before_pong: list[str] = []
    while (frame := await next_frame(ws))["type"] != "pong":
        before_pong.append(frame["event"])
    assert "system.metric" not in before_pong


async def test_collector_runs_at_its_interval(make_client: AppFactory) -> None:
    client = await make_client(collector_interval=0.1)
    ws = await connect(client)
    await subscribe(ws, "system")
    seqs: list[int] = []
    while len(seqs) < 3:
        # A busy host can fire a CPU alert, which arrives on global: count system only.
        frame = await next_of(ws, "event")
        if frame["channel"] == "system":
            seqs.append(frame["seq"])
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


async def test_metrics_history_returns_recent_samples_oldest_first(
    make_client: AppFactory,
) -> None:
    client = await make_client(collector_interval=60)
    collector = client.app[keys.COLLECTOR]
    for _ in range(3):
        await collector.collect()
    body = await (await client.get("/api/monitoring/metrics/history?seconds=900")).json()
    assert body["interval_seconds"] == 60
    stamps = [sample["timestamp"] for sample in body["samples"]]
    assert len(stamps) == 3 and stamps == sorted(stamps)
    bad = await client.get("/api/monitoring/metrics/history?seconds=-5")
    assert bad.status == 400
    assert (await bad.json())["field"] == "seconds"


async def test_queued_frames_counts_frames_no_socket_took_yet(make_client: AppFactory) -> None:
    client = await make_client(max_outbox_bytes=64 * 1024 * 1024)
    collector = client.app[keys.COLLECTOR]
    broadcaster = client.app[keys.BROADCASTER]
    reader = await RawWebSocket.connect(
        "127.0.0.1", client.port or 0, "/api/monitoring/ws?business_id=slow"
    )
    await reader.read_frame()  # connected
    sent = 0
    queued = 0
    while queued == 0 and sent < 4000:  # until the kernel's buffers are full (16 MB at most)
        for _ in range(20):
            await broadcaster.emit("task.started", {"pad": "x" * 4000}, business_id="slow")
            sent += 1
        await asyncio.sleep(0.01)
        queued = (await collector.collect()).queued_frames
    assert queued > 0, "a reader that stalls leaves frames queued"
    assert (await (await client.get("/api/monitoring/metrics")).json())["queued_frames"] == queued

    seen = 0
    while seen < sent:
        opcode, _ = await reader.read_frame()
        seen += opcode == 0x1
    await eventually(lambda: client.app[keys.HUB].figures().queued_frames == 0)
    assert (await collector.collect()).queued_frames == 0
    reader.close()


async def test_prometheus_gauges_follow_the_sample(client: LivewatchClient) -> None:
    sample = await client.app[keys.COLLECTOR].collect()
    registry = client.app[keys.REGISTRY]
    assert registry.get_sample_value("livewatch_cpu_usage_ratio") == sample.cpu_percent / 100
    assert registry.get_sample_value("livewatch_memory_used_ratio") == sample.memory_percent / 100
    root = {
        metric.name: s.value
        for metric in registry.collect()
        if metric.name.startswith("livewatch_filesystem_")
        for s in metric.samples
        if s.labels["mountpoint"] == sample.disk_path
    }
    assert root["livewatch_filesystem_size_bytes"] == sample.disk_total_bytes
    assert abs(root["livewatch_filesystem_used_ratio"] - sample.disk_percent / 100) < 0.01
    assert registry.get_sample_value("livewatch_load1") is not None
    text = await (await client.get("/metrics")).text()
    for name in (
        "livewatch_cpu_usage_ratio",
        "livewatch_memory_used_bytes",
        "livewatch_filesystem_used_ratio",
        "livewatch_ws_connections",
        "livewatch_collector_duration_seconds_bucket",
        'livewatch_health_check_status{check="database",status="healthy"} 1.0',
        "process_resident_memory_bytes",
    ):
        assert name in text, name


async def test_cpu_is_always_read_on_the_thread_that_primed_it(
    make_client: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CPU shares are measured against the previous reading: every reading, the
    priming one included, is taken on the collector's one reader thread, so no reading
    can be measured against another thread's (psutil's cpu_percent() keeps its baseline
    per thread; livewatch's own baselines are kept for the same one thread)."""
    threads: list[int] = []
    real = host_reading.CpuPercent.update

    def recording(self: host_reading.CpuPercent, *args: Any) -> Any:
        threads.append(threading.get_ident())
        return real(self, *args)

    monkeypatch.setattr(host_reading.CpuPercent, "update", recording)
    client = await make_client()
    collector = client.app[keys.COLLECTOR]
    for _ in range(4):
        # Keep the default executor busy, so a to_thread reading would move threads.
        blockers = [asyncio.to_thread(time.sleep, 0.02) for _ in range(3)]
        await asyncio.gather(collector.collect(), *blockers)
    assert len(threads) == 5, "one priming reading, then one per sample"
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()


def test_cpu_shares_count_as_psutil_does() -> None:
    cpu = host_reading.CpuPercent()
    #            user nice system idle iowait irq softirq steal guest guest_nice
    before = (
        ("0", (100, 0, 50, 800, 50, 0, 0, 0, 30, 0)),
        ("1", (0, 0, 0, 1000, 0, 0, 0, 0, 0, 0)),
    )
    after = (("0", (160, 0, 70, 820, 50, 0, 0, 0, 60, 0)), ("1", (0, 0, 0, 1100, 0, 0, 0, 0, 0, 0)))
    assert cpu.update(before) == (0.0, [0.0, 0.0]), "no baseline yet"
    # core 0: busy 60 + 20 = 80 of 100 (guest time is inside user); core 1: idle.
    assert cpu.update(after) == (40.0, [80.0, 0.0])


# --- what the page gets beyond the basics --------------------------------------------------


async def test_the_sample_carries_per_core_cpu_rates_and_top_processes(
    client: LivewatchClient,
) -> None:
    collector = client.app[keys.COLLECTOR]
    await collector.collect()
    served = await (await client.get("/api/monitoring/metrics")).json()
    cores = served["cpu_percent_per_core"]
    assert isinstance(cores, list) and len(cores) == psutil.cpu_count()
    assert all(isinstance(core, float | int) and 0 <= core <= 100 for core in cores)
    for name in (
        "net_sent_bytes_per_second",
        "net_recv_bytes_per_second",
        "disk_read_bytes_per_second",
        "disk_write_bytes_per_second",
    ):
        assert isinstance(served[name], float | int) and served[name] >= 0, name
    top = served["top_processes"]
    assert set(top) == {"by_cpu", "by_memory"}
    for ranking in ("by_cpu", "by_memory"):
        assert 0 < len(top[ranking]) <= 10
        for process in top[ranking]:
            assert set(process) == {"pid", "name", "cpu_percent", "memory_percent", "rss_bytes"}
            assert isinstance(process["pid"], int) and isinstance(process["name"], str)
    memory = [process["rss_bytes"] for process in top["by_memory"]]
    assert memory == sorted(memory, reverse=True)
    cpu = [process["cpu_percent"] for process in top["by_cpu"]]
    assert cpu == sorted(cpu, reverse=True)
    biggest = max(psutil.process_iter(["memory_info"]), key=lambda p: p.info["memory_info"].rss)
    assert biggest.pid in {process["pid"] for process in top["by_memory"]}


async def test_a_busy_process_tops_the_cpu_list(client: LivewatchClient) -> None:
    collector = client.app[keys.COLLECTOR]
    busy = await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
    try:
        await collector.collect()  # the baseline of the new process
        await asyncio.sleep(0.6)
        sample = await collector.collect()
    finally:
        busy.kill()
        await busy.wait()
    found = [p for p in sample.top_processes.by_cpu if p.pid == busy.pid]
    assert found, [(p.pid, p.name, p.cpu_percent) for p in sample.top_processes.by_cpu]
    assert found[0].cpu_percent > 10
    assert found[0].name.startswith("python")


async def test_rates_follow_the_traffic(client: LivewatchClient) -> None:
    collector = client.app[keys.COLLECTOR]
    payload = b"x" * (4 * 1024 * 1024)
    received = asyncio.Event()

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)
        writer.close()
        received.set()

    server = await asyncio.start_server(sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()  # both readings fall inside the timed span
    await collector.collect()
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    await received.wait()
    server.close()
    await server.wait_closed()
    sample = await collector.collect()
    elapsed = time.monotonic() - started
    # Loopback counts the bytes both ways: sent by one end, received by the other.
    assert sample.net_sent_bytes_per_second >= len(payload) / elapsed
    assert sample.net_recv_bytes_per_second >= len(payload) / elapsed


async def test_processes_are_read_once_per_sample_on_the_reader_thread(
    client: LivewatchClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = procfs.read_processes

    def recording(*args: Any) -> list[procfs.ProcessStat]:
        calls.append(threading.current_thread().name)
        return real(*args)

    monkeypatch.setattr(procfs, "read_processes", recording)
    collector = client.app[keys.COLLECTOR]
    for _ in range(3):
        await collector.collect()
    await client.get("/api/monitoring/metrics")
    await client.get("/metrics")
    assert len(calls) == 3, "once per sample; never for an API answer or a scrape"
    assert all(name.startswith("livewatch-host") for name in calls), calls


async def test_history_leaves_the_process_list_to_the_latest_sample(
    client: LivewatchClient,
) -> None:
    await client.app[keys.COLLECTOR].collect()
    latest = await (await client.get("/api/monitoring/metrics")).json()
    history = await (await client.get("/api/monitoring/metrics/history")).json()
    (sample,) = history["samples"]
    assert set(sample) == set(SAMPLE_FIELDS) - {"top_processes"}
    assert latest["top_processes"]["by_memory"]
    assert {key: latest[key] for key in sample} == sample


def test_rate_is_per_second_and_never_negative(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    rate = host_reading.Rate()
    assert rate.update(1000, 50) == (0.0, 0.0), "no baseline yet"
    now[0] += 2
    assert rate.update(3000, 150) == (1000.0, 50.0)
    now[0] += 1
    assert rate.update(10, 150) == (0.0, 0.0), "a counter that went back counts as 0"
