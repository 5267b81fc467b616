"""The collector: one real host sample feeds the JSON API, the system channel and Prometheus."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import psutil
import pytest

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
    """psutil keeps the cpu_percent(interval=None) baseline per thread: a reading on any other
    thread than the previous one is 0.0 % or an average over an unknown span."""
    threads: list[int] = []
    real = psutil.cpu_percent

    def recording(*args: Any, **kwargs: Any) -> float:
        threads.append(threading.get_ident())
        value: float = real(*args, **kwargs)
        return value

    monkeypatch.setattr(psutil, "cpu_percent", recording)
    client = await make_client()
    collector = client.app[keys.COLLECTOR]
    for _ in range(4):
        # Keep the default executor busy, so a to_thread reading would move threads.
        blockers = [asyncio.to_thread(time.sleep, 0.02) for _ in range(3)]
        await asyncio.gather(collector.collect(), *blockers)
    assert len(threads) == 5, "one priming call, then one per sample"
    assert len(set(threads)) == 1
    assert threads[0] != threading.get_ident()
