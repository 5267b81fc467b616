"""The scrape and collector costs: livewatch's /metrics against node_exporter's, and what
the host collector costs at a 1 s interval.

Both exporters are scraped the way Prometheus scrapes (its Accept header, gzip, one
keep-alive connection), one after the other on the same machine, back to back. The
server's CPU (user + system, all threads) over the scrapes, divided by their number, is
the CPU per scrape; divided again by the series a scrape returns, the CPU per series.
node_exporter is Debian's prometheus-node-exporter (or node_exporter on PATH) with its
default collectors, on a free loopback port; the comparison is skipped, with a message,
where it is missing.

The collector's overhead is measured with two livewatch processes side by side over the
same window: one sampling every second, one whose collector never runs. The difference
in their CPU, divided by the window, is the share of one core the collector takes.
"""

from __future__ import annotations

import gzip
import http.client
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.scenarios import busy_seconds, percentile
from bench.servers import HOST, ServerProcess, free_port

# What Prometheus 2.x sends with every scrape.
PROMETHEUS_HEADERS = {
    "Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
    "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
    "Accept-Encoding": "gzip",
    "User-Agent": "Prometheus/2.42.0",
    "X-Prometheus-Scrape-Timeout-Seconds": "10",
}
NODE_EXPORTER_NAMES = ("prometheus-node-exporter", "node_exporter")
COLLECTOR_INTERVAL = 1.0


@dataclass
class ScrapeResult:
    server: str  # "livewatch" or "node_exporter"
    version: str
    scrapes: int
    series: int
    body_bytes: int  # gzip'd, as sent
    cpu_ms_per_scrape: float
    cpu_us_per_series: float
    p50_ms: float
    p99_ms: float
    other_load: float


@dataclass
class CollectorResult:
    interval: float
    seconds: float
    samples: int
    processes: int  # on the host while it was measured: the top-processes read is per process
    cpu_ms_per_sample: float
    core_share: float  # of one core, 0..1
    other_load: float


@dataclass
class ScrapeReport:
    results: list[ScrapeResult]
    collector: CollectorResult | None
    skipped: str = ""  # why node_exporter was not measured

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> ScrapeReport:
        collector = saved.get("collector")
        return cls(
            [ScrapeResult(**result) for result in saved["results"]],
            CollectorResult(**collector) if collector else None,
            saved.get("skipped", ""),
        )


def find_node_exporter() -> str | None:
    for name in NODE_EXPORTER_NAMES:
        found = shutil.which(name)
        if found is None and os.access(f"/usr/bin/{name}", os.X_OK):
            found = f"/usr/bin/{name}"  # PATH without /usr/bin
        if found:
            return found
    return None


def series_in(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def scrape_once(conn: http.client.HTTPConnection) -> bytes:
    """One scrape; the body as sent (gzip'd: both exporters compress when asked)."""
    conn.request("GET", "/metrics", headers=PROMETHEUS_HEADERS)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"/metrics answered {response.status}")
    if response.getheader("Content-Encoding") != "gzip":
        raise RuntimeError("/metrics did not gzip its answer for a scraper that asked")
    return body


def measure_scrapes(server: str, version: str, port: int, pid: int, scrapes: int) -> ScrapeResult:
    process = psutil.Process(pid)
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        for _ in range(max(5, scrapes // 10)):  # warm-up: first-use costs, caches, the GC
            scrape_once(conn)
        body = scrape_once(conn)
        series = series_in(gzip.decompress(body).decode())
        time.sleep(0.2)
        before = process.cpu_times()
        own_before = time.process_time()
        machine_before = busy_seconds()
        wall_before = time.monotonic()
        latencies = []
        for _ in range(scrapes):
            started = time.perf_counter()
            body = scrape_once(conn)
            latencies.append(time.perf_counter() - started)
        after = process.cpu_times()
        wall = time.monotonic() - wall_before
        cpu = (after.user + after.system) - (before.user + before.system)
        ours = cpu + time.process_time() - own_before
        others = busy_seconds() - machine_before - ours
    finally:
        conn.close()
    latencies.sort()
    per_scrape = cpu / scrapes
    return ScrapeResult(
        server=server,
        version=version,
        scrapes=scrapes,
        series=series,
        body_bytes=len(body),
        cpu_ms_per_scrape=per_scrape * 1e3,
        cpu_us_per_series=per_scrape / max(1, series) * 1e6,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        other_load=max(0.0, others / wall),
    )


def take_a_sample(port: int) -> None:
    """GET /api/monitoring/metrics takes the first sample when none was taken yet: the
    per-tick families (memory, filesystems) are then filled, as on a running service."""
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", "/api/monitoring/metrics")
        response = conn.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"/api/monitoring/metrics answered {response.status}")
    finally:
        conn.close()


def livewatch_scrapes(workdir: Path, scrapes: int) -> ScrapeResult:
    from app import __version__

    with ServerProcess("livewatch", workdir) as server:
        take_a_sample(server.port)
        return measure_scrapes("livewatch", __version__, server.port, server.pid, scrapes)


def node_exporter_scrapes(binary: str, workdir: Path, scrapes: int) -> ScrapeResult:
    port = free_port()
    answer = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"version (\S+)", answer.stdout + answer.stderr)
    log_path = workdir / f"node_exporter-{port}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [binary, f"--web.listen-address={HOST}:{port}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                scrape_once(conn)
                conn.close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"node_exporter did not start: {log_path.read_text()[-500:]}"
                    ) from None
                time.sleep(0.1)
        return measure_scrapes(
            "node_exporter", match.group(1) if match else "?", port, proc.pid, scrapes
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def collector_overhead(workdir: Path, seconds: float) -> CollectorResult:
    """Two livewatch processes over the same window: collector every second, and never."""
    sampling = ServerProcess("livewatch", workdir, collector_interval=COLLECTOR_INTERVAL)
    idle = ServerProcess("livewatch", workdir)
    with sampling, idle:
        time.sleep(COLLECTOR_INTERVAL * 2.5)  # past the priming and the first sample
        processes = len(psutil.pids())
        before = (sampling.cpu_seconds(), idle.cpu_seconds())
        own_before = time.process_time()
        machine_before = busy_seconds()
        wall_before = time.monotonic()
        time.sleep(seconds)
        wall = time.monotonic() - wall_before
        used = sampling.cpu_seconds() - before[0]
        baseline = idle.cpu_seconds() - before[1]
        ours = used + baseline + time.process_time() - own_before
        others = busy_seconds() - machine_before - ours
    overhead = max(0.0, used - baseline)
    samples = max(1, round(wall / COLLECTOR_INTERVAL))
    return CollectorResult(
        interval=COLLECTOR_INTERVAL,
        seconds=wall,
        samples=samples,
        processes=processes,
        cpu_ms_per_sample=overhead / samples * 1e3,
        core_share=overhead / wall,
        other_load=max(0.0, others / wall),
    )


def run(workdir: Path, quick: bool) -> ScrapeReport:
    scrapes = 100 if quick else 500
    results = [livewatch_scrapes(workdir, scrapes)]
    binary = find_node_exporter()
    skipped = ""
    if binary is None:
        skipped = (
            "node_exporter not found (Debian package prometheus-node-exporter): "
            "the comparison is skipped"
        )
    else:
        results.append(node_exporter_scrapes(binary, workdir, scrapes))
    collector = collector_overhead(workdir, 5.0 if quick else 20.0)
    return ScrapeReport(results, collector, skipped)
