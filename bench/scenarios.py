"""The fan-out scenarios and how one (scenario, server) case is run and measured."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import psutil

from bench import loadgen, receiver
from bench.loadgen import Receivers
from bench.receiver import ReceiverConfig
from bench.servers import HOST, WS_PATH, ServerKind, ServerProcess

Kind = Literal["cost", "latency", "memory", "scale", "storm", "history", "cluster", "publish"]
KINDS: tuple[Kind, ...] = (
    "cost",
    "latency",
    "memory",
    "scale",
    "storm",
    "history",
    "cluster",
    "publish",
)
# Scenarios that need livewatch's history (the naive server keeps none and cannot recover)
# or its broker (the naive server has one process and nothing to share).
LIVEWATCH_ONLY: tuple[Kind, ...] = ("storm", "history", "cluster", "publish")


@dataclass(frozen=True)
class Scenario:
    kind: Kind
    title: str
    clients: int
    channel: str = "bench"
    events: int = 0  # published over HTTP (0: none)
    publishers: int = 1
    rate: float | None = None  # events/s; None: as fast as the publishers go
    duration: float = (
        0.0  # seconds of collector pushes (scale); steady seconds around a drop (storm)
    )
    collector_interval: float | None = None
    receivers: int = 1
    client_nice: int = 0
    # livewatch settings by name, passed as LIVEWATCH_<NAME> (see ServerProcess)
    settings: tuple[tuple[str, str], ...] = ()
    rounds: int = 1  # history: pairs of cases (history at its default, and at 1)
    spread: float = 0.0  # storm: reconnects spread at random over this many seconds
    # cluster and publish: livewatch nodes sharing one Redis. The cluster scenario runs a
    # burst (`events` by `publishers`) and a steady phase (`rate` for `duration` s), first on
    # one node with the memory broker, then on `nodes` nodes; publish runs 1 and `nodes`.
    nodes: int = 1


def scenarios(
    quick: bool,
    receivers: int | None = None,
    client_nice: int | None = None,
    storm_spread: float = 0.0,
) -> dict[Kind, Scenario]:
    """The fan-out targets; ``quick`` shrinks them to run in well under a minute.

    The receivers of the latency scenarios run at niceness 10: they only read and the kernel
    stamps each frame's arrival, so they should not take the CPU from the server whose
    delivery time is measured. In the cost scenario they compete as equals.
    """
    chosen: dict[Kind, Scenario] = {
        "cost": Scenario("cost", "CPU per delivery", 1000, events=1000, publishers=16),
        "latency": Scenario(
            "latency", "steady latency", 1000, events=300, rate=20.0, client_nice=10
        ),
        "memory": Scenario("memory", "RSS per idle connection", 5000, receivers=2),
        "scale": Scenario(
            "scale",
            "10k connections, collector every 1 s",
            10_000,
            channel="system",
            duration=15.0,
            collector_interval=1.0,
            receivers=2,
            client_nice=10,
        ),
        "storm": Scenario("storm", "reconnect storm", 2000, rate=50.0, duration=3.0, receivers=2),
        "history": Scenario(
            "history",
            "CPU per delivery, history 1000 and 1",
            1000,
            events=1000,
            publishers=16,
            rounds=2,
        ),
        "cluster": Scenario(
            "cluster",
            "cross-node fan-out",
            1000,
            events=1000,
            publishers=16,
            rate=50.0,
            duration=10.0,
            client_nice=10,
            nodes=3,
        ),
        # clients: the few subscribers of the case with subscribers; events: per node
        "publish": Scenario(
            "publish", "publish throughput", 12, events=10_000, publishers=16, nodes=3
        ),
    }
    if quick:
        smaller: dict[Kind, dict[str, Any]] = {
            "cost": {"clients": 200, "events": 200},
            "latency": {"clients": 200, "events": 60},
            "memory": {"clients": 500, "receivers": 1},
            "scale": {"clients": 1000, "duration": 4.0, "receivers": 1},
            "storm": {"clients": 300, "duration": 1.5, "receivers": 1},
            "history": {"clients": 200, "events": 200, "rounds": 1},
            "cluster": {"clients": 200, "events": 200, "duration": 3.0},
            "publish": {"events": 2000},
        }
        chosen = {k: dataclasses.replace(s, **smaller[k]) for k, s in chosen.items()}
    if receivers is not None:
        chosen = {k: dataclasses.replace(s, receivers=receivers) for k, s in chosen.items()}
    if client_nice is not None:
        chosen = {k: dataclasses.replace(s, client_nice=client_nice) for k, s in chosen.items()}
    chosen["storm"] = dataclasses.replace(chosen["storm"], spread=storm_spread)
    return chosen


@dataclass
class CaseResult:
    scenario: Kind
    server: ServerKind
    clients: int
    receivers: int
    client_nice: int
    variant: str = ""  # what sets this case apart from others of its scenario and server
    events: int = 0
    publishers: int = 0
    rate: float | None = None
    connect_seconds: float = 0.0
    rss_per_connection_kb: float = 0.0
    deliveries: int = 0
    missing: int = 0
    reordered: int = 0
    closed: int = 0
    close_codes: dict[str, int] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    deliveries_per_second: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    read_p50_ms: float = 0.0
    read_p99_ms: float = 0.0
    read_max_ms: float = 0.0
    timed: int = 0
    cpu_us_per_delivery: float = 0.0
    duplicates: int = 0
    nodes: int = 1  # livewatch processes serving the clients; CPU is summed over them
    # the broker's own CPU per delivery (Redis, from INFO cpu); 0 for the memory broker,
    # which runs inside the node and is counted in cpu_us_per_delivery
    broker_cpu_us_per_delivery: float = 0.0
    receiver_busy: float = 0.0  # the busiest receiver's CPU / wall time, 0..1
    # CPU used on the machine by processes other than this run's (other sessions, daemons)
    # while the case was measured, in cores: 1.0 is one core busy all the time.
    other_load: float = 0.0

    def figures(self) -> dict[str, float]:
        return {
            "deliveries_per_second": self.deliveries_per_second,
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
            "max_ms": self.max_ms,
            "read_p99_ms": self.read_p99_ms,
            "cpu_us_per_delivery": self.cpu_us_per_delivery,
            "rss_per_connection_kb": self.rss_per_connection_kb,
        }


def busy_seconds() -> float:
    """CPU seconds all processes have spent in user and system mode (what process CPU
    times add up to; interrupt and softirq time, which no process is charged, stay out)."""
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system)


def percentile(ordered: list[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def warm_up(server: ServerProcess) -> None:
    """A few clients and events, so first-use costs land before the baseline is taken."""
    errors: list[str] = []
    config = ReceiverConfig(HOST, server.port, WS_PATH, "warmup", 20)
    clients = receiver.open_clients(config, errors)
    if errors:
        raise RuntimeError(f"warm-up against {server.kind} failed: {errors[0]}")
    url = f"http://{HOST}:{server.port}/api/events"
    asyncio.run(loadgen.publish(url, "warmup", 20, 4))
    for client in clients:
        client.sock.shutdown(socket.SHUT_RDWR)
        client.sock.close()
    time.sleep(0.5)


def run_case(scenario: Scenario, kind: ServerKind, workdir: Path) -> CaseResult:
    result = CaseResult(
        scenario.kind, kind, scenario.clients, scenario.receivers, scenario.client_nice
    )
    settings = dict(scenario.settings)
    with ServerProcess(kind, workdir, scenario.collector_interval, settings=settings) as server:
        warm_up(server)
        rss_before = server.rss_bytes()
        receivers = Receivers(
            HOST,
            server.port,
            WS_PATH,
            scenario.channel,
            scenario.clients,
            scenario.receivers,
            scenario.client_nice,
        )
        try:
            result.connect_seconds = receivers.all_connected()
            time.sleep(1.0)
            result.rss_per_connection_kb = (
                (server.rss_bytes() - rss_before) / scenario.clients / 1024
            )
            if scenario.kind != "memory":
                measure(scenario, server, receivers, result)
        finally:
            receivers.close()
    if result.closed or result.missing:
        print(f"  {kind} log tail:\n{server.log_tail(5)}")
    return result


class Measured(Protocol):
    """What a case is measured on: a server, or the nodes of a cluster (CPU summed)."""

    @property
    def kind(self) -> str: ...

    @property
    def port(self) -> int:
        """Where the publishers send their events."""
        ...

    def cpu_seconds(self) -> float: ...


def measure(
    scenario: Scenario,
    server: Measured,
    receivers: Receivers,
    result: CaseResult,
    broker_cpu: Callable[[], float] | None = None,
) -> None:
    """One phase: publish (or wait), then every client's tally. ``broker_cpu`` reads the CPU
    of a broker process of the run's (Redis), kept apart from the server's."""
    started = time.time()
    receivers.send("start", started)
    cpu_before = server.cpu_seconds()
    broker_before = broker_cpu() if broker_cpu is not None else 0.0
    machine_before = busy_seconds()
    own_before = time.process_time()
    wall_before = time.monotonic()
    if scenario.events:
        url = f"http://{HOST}:{server.port}/api/events"
        published = asyncio.run(
            loadgen.publish(
                url, scenario.channel, scenario.events, scenario.publishers, scenario.rate
            )
        )
        if published.failed:
            raise RuntimeError(f"{published.failed} publishes to {server.kind} failed")
        started = published.first_at
        last_seq = published.last_seq
        result.events = published.events
        result.publishers = scenario.publishers
        result.rate = scenario.rate
    else:
        time.sleep(scenario.duration)
        last_seq = receivers.max_seq()
        result.rate = 1 / scenario.collector_interval if scenario.collector_interval else None
    tallies = receivers.finish(last_seq, timeout=30.0)
    cpu = server.cpu_seconds() - cpu_before
    broker = broker_cpu() - broker_before if broker_cpu is not None else 0.0
    ours = cpu + broker + sum(t.cpu_seconds for t in tallies) + time.process_time() - own_before
    others = busy_seconds() - machine_before - ours
    result.other_load = max(0.0, others / (time.monotonic() - wall_before))

    latencies = array("d")
    read_latencies = array("d")
    for tally in tallies:
        latencies.frombytes(tally.latencies)
        read_latencies.frombytes(tally.read_latencies)
        result.deliveries += tally.received
        result.missing += tally.missing
        result.reordered += tally.reordered
        result.duplicates += tally.duplicates
        result.closed += tally.closed
        for code, count in tally.close_codes.items():
            result.close_codes[str(code)] = result.close_codes.get(str(code), 0) + count
    if not scenario.events:
        result.events = round(len(latencies) / max(1, scenario.clients))
    timed = sorted(latencies)
    result.timed = len(timed)
    result.p50_ms = percentile(timed, 0.50) * 1000
    result.p99_ms = percentile(timed, 0.99) * 1000
    result.max_ms = (timed[-1] if timed else 0.0) * 1000
    read = sorted(read_latencies)
    result.read_p50_ms = percentile(read, 0.50) * 1000
    result.read_p99_ms = percentile(read, 0.99) * 1000
    result.read_max_ms = (read[-1] if read else 0.0) * 1000
    last = max(tally.last_arrival for tally in tallies)
    result.seconds = max(1e-9, last - started)
    result.deliveries_per_second = len(timed) / result.seconds
    result.cpu_us_per_delivery = cpu / max(1, len(timed)) * 1e6
    result.broker_cpu_us_per_delivery = broker / max(1, len(timed)) * 1e6
    result.receiver_busy = max(
        tally.cpu_seconds / max(1e-9, tally.wall_seconds) for tally in tallies
    )


HISTORY_DEFAULT = "history 1000"
HISTORY_ONE = "history 1"


def run_history(scenario: Scenario, workdir: Path) -> list[CaseResult]:
    """The cost case against livewatch with history at its default (1000 events a channel)
    and with LIVEWATCH_HISTORY_SIZE=1, in ABBA order over the rounds, so that a drift of
    the machine over the run weighs on both alike."""
    variants = {HISTORY_DEFAULT: (), HISTORY_ONE: (("history_size", "1"),)}
    order = [HISTORY_DEFAULT, HISTORY_ONE]
    results: list[CaseResult] = []
    for index in range(scenario.rounds):
        for variant in order if index % 2 == 0 else order[::-1]:
            case = dataclasses.replace(scenario, settings=variants[variant])
            result = run_case(case, "livewatch", workdir)
            result.variant = variant
            results.append(result)
    return results


def pooled_us_per_delivery(results: list[CaseResult], variant: str) -> float:
    """Server CPU per delivery over every case of one variant: total CPU / total deliveries."""
    chosen = [r for r in results if r.variant == variant]
    deliveries = sum(r.timed for r in chosen)
    cpu_us = sum(r.cpu_us_per_delivery * r.timed for r in chosen)
    return cpu_us / deliveries if deliveries else 0.0
