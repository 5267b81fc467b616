"""Several livewatch nodes over one Redis: cross-node fan-out, and publish throughput.

**Cross-node fan-out** (``cluster``). The same subscribers and the same publish load, first
against one node with the memory broker, then one node over Redis (the Redis hop alone),
then ``nodes`` nodes (separate processes, one Redis, one key prefix) with the subscribers
spread over the nodes in turn and every publish sent to the first node. Each configuration
runs two phases on the same connections:

- **burst**: ``events`` published by ``publishers`` concurrent requests, as in the cost
  scenario (receivers at nice 0): throughput and CPU per delivery under load;
- **steady**: ``rate`` events/s for ``duration`` s, as in the latency scenario (receivers
  at nice ``client_nice``): latency and CPU per delivery when each event is alone.

CPU per delivery is the nodes' CPU summed; Redis's own CPU (INFO cpu) is given apart.

**Publish throughput** (``publish``). HTTP publishers against 1 node and against ``nodes``
nodes at once (one publisher process per node, ``publishers`` concurrent requests each,
``events`` events each, all on one channel), with no subscriber and with ``clients``
subscribers spread over the nodes. Then the publish script alone, driven by
``redis-benchmark`` (pipelined, no HTTP, no node): what one Redis can take.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.hub.redis_broker import PUBLISH
from bench import loadgen
from bench.loadgen import Receivers
from bench.scenarios import CaseResult, Scenario, busy_seconds, measure, warm_up
from bench.servers import HOST, WS_PATH, RedisServer, Running, ServerProcess

P50_ADDED_MS = 2.0  # target: the cluster's p50 at most this much above one node's
CPU_RATIO = 1.5  # target: the cluster's node CPU per delivery at most this times one node's
BURST = "burst"
STEADY = "steady"
SINGLE = "1 node, memory"


def cluster_label(nodes: int) -> str:
    return f"{nodes} nodes, redis" if nodes > 1 else "1 node, redis"


class Nodes(Running):
    """``count`` livewatch processes with the same settings; CPU summed over them."""

    kind = "livewatch"

    def __init__(self, count: int, workdir: Path, settings: dict[str, str]) -> None:
        self.servers = [
            ServerProcess("livewatch", workdir, settings=settings) for _ in range(count)
        ]

    def start(self) -> None:
        for server in self.servers:  # all at once: their imports overlap
            server.launch()
        for server in self.servers:
            server.wait_ready()

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    @property
    def port(self) -> int:
        return self.servers[0].port

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)

    def log_tail(self, lines: int = 5) -> str:
        return "\n".join(server.log_tail(lines) for server in self.servers)


def broker_settings(redis: RedisServer, prefix: str) -> dict[str, str]:
    return {"broker": redis.url, "redis_prefix": prefix}


# --- cross-node fan-out -------------------------------------------------------------------


def run_cluster(scenario: Scenario, workdir: Path, redis: RedisServer) -> list[CaseResult]:
    """One node with the memory broker; one node over Redis, which shows what the Redis hop
    costs by itself; then ``scenario.nodes`` nodes over Redis. Each with a burst and a steady
    phase: six CaseResults, variant "<configuration>, <phase>"."""
    results = _fanout(scenario, workdir, 1, SINGLE, {})
    for count in dict.fromkeys((1, scenario.nodes)):
        prefix = redis.prefix()
        try:
            settings = broker_settings(redis, prefix)
            results += _fanout(scenario, workdir, count, cluster_label(count), settings, redis)
        finally:
            redis.drop(prefix)
    return results


def _fanout(
    scenario: Scenario,
    workdir: Path,
    count: int,
    label: str,
    settings: dict[str, str],
    redis: RedisServer | None = None,
) -> list[CaseResult]:
    results: list[CaseResult] = []
    with Nodes(count, workdir, settings) as nodes:
        for server in nodes.servers:
            warm_up(server)
        receivers = Receivers(
            HOST, nodes.ports, WS_PATH, scenario.channel, scenario.clients, scenario.receivers
        )
        try:
            receivers.all_connected()
            time.sleep(1.0)
            broker_cpu = redis.cpu_seconds if redis is not None else None
            phases = (
                (BURST, dataclasses.replace(scenario, rate=None), 0),
                (
                    STEADY,
                    dataclasses.replace(scenario, events=round(scenario.rate * scenario.duration))
                    if scenario.rate
                    else scenario,
                    scenario.client_nice,
                ),
            )
            for phase, case, nice in phases:
                # nice 0 first: raising a worker's niceness needs no privilege, lowering does
                receivers.renice(nice)
                result = CaseResult(
                    "cluster",
                    "livewatch",
                    scenario.clients,
                    scenario.receivers,
                    nice,
                    variant=f"{label}, {phase}",
                    nodes=count,
                )
                measure(case, nodes, receivers, result, broker_cpu)
                results.append(result)
                time.sleep(0.5)
        finally:
            receivers.close()
    if any(r.closed or r.missing or r.duplicates or r.reordered for r in results):
        print(f"  livewatch log tails:\n{nodes.log_tail(5)}")
    return results


def pair(
    results: list[CaseResult], phase: str, label: str | None = None
) -> tuple[CaseResult, CaseResult] | None:
    """(one node with the memory broker, another configuration) for one phase: by default
    the cluster of several nodes; None without both."""
    single = next((r for r in results if r.variant == f"{SINGLE}, {phase}"), None)
    other = next(
        (
            r
            for r in results
            if r.scenario == "cluster"
            and (r.variant == f"{label}, {phase}" if label else r.nodes > 1)
            and r.variant.endswith(f", {phase}")
        ),
        None,
    )
    return (single, other) if single is not None and other is not None else None


def configurations(results: list[CaseResult]) -> list[str]:
    """The configurations compared with one node on the memory broker, in run order."""
    labels = [r.variant.rsplit(", ", 1)[0] for r in results if r.scenario == "cluster"]
    return [label for label in dict.fromkeys(labels) if label != SINGLE]


def exact(result: CaseResult) -> bool:
    """Every client had every seq of the phase, in order, once."""
    return (
        result.missing == 0
        and result.reordered == 0
        and result.duplicates == 0
        and result.closed == 0
        and result.deliveries == result.clients * result.events
    )


def cluster_verdicts(results: list[CaseResult]) -> list[dict[str, Any]]:
    steady = pair(results, STEADY)
    burst = pair(results, BURST)
    found: list[dict[str, Any]] = []
    if steady is not None:
        one, many = steady
        added = many.p50_ms - one.p50_ms
        found.append(
            {
                "scenario": "cluster",
                "target": f"p50 at most {P50_ADDED_MS:g} ms over one node (steady)",
                "measured": f"p50 {many.p50_ms:.2f} ms on {many.nodes} nodes against "
                f"{one.p50_ms:.2f} ms on one: {added:+.2f} ms",
                "met": added <= P50_ADDED_MS,
            }
        )
    ratios: list[tuple[str, float, float]] = []  # phase, one node's us, the cluster's us
    for name, found_pair in ((BURST, burst), (STEADY, steady)):
        if found_pair is not None:
            one, many = found_pair
            ratios.append((name, one.cpu_us_per_delivery, many.cpu_us_per_delivery))
    if ratios:
        found.append(
            {
                "scenario": "cluster",
                "target": f"node CPU per delivery within {CPU_RATIO:g}x of one node "
                "(burst and steady)",
                "measured": ", ".join(
                    f"{name} {many:.2f} against {one:.2f} us: {many / one:.2f}x"
                    for name, one, many in ratios
                ),
                "met": all(many <= CPU_RATIO * one for _, one, many in ratios),
            }
        )
    cases = [r for r in results if r.scenario == "cluster"]
    if cases:
        bad = [r for r in cases if not exact(r)]
        found.append(
            {
                "scenario": "cluster",
                "target": "every subscriber gets every seq, in order, once",
                "measured": "; ".join(
                    f"{r.variant}: {r.deliveries:,} of {r.clients * r.events:,}, "
                    f"{r.missing} missing, {r.reordered} out of order, "
                    f"{r.duplicates} duplicated, {r.closed} closed"
                    for r in (bad or cases[-1:])
                )
                if bad
                else f"{len(cases)} phases, {sum(r.deliveries for r in cases):,} deliveries: "
                "0 missing, 0 out of order, 0 duplicated",
                "met": not bad,
            }
        )
    return found


def cluster_lines(results: list[CaseResult]) -> list[str]:
    lines: list[str] = []
    for label in configurations(results):
        for phase in (BURST, STEADY):
            found = pair(results, phase, label)
            if found is None:
                continue
            one, other = found
            with_redis = other.cpu_us_per_delivery + other.broker_cpu_us_per_delivery
            lines.append(
                f"cluster {phase}, {label}: {other.deliveries_per_second:,.0f} deliveries/s, "
                f"p50 {other.p50_ms:.2f} ms, p99 {other.p99_ms:.2f} ms, "
                f"{other.cpu_us_per_delivery:.2f} us node CPU per delivery "
                f"(+ {other.broker_cpu_us_per_delivery:.3f} us in Redis = {with_redis:.2f}); "
                f"{SINGLE}: {one.deliveries_per_second:,.0f}/s, p50 {one.p50_ms:.2f} ms, "
                f"p99 {one.p99_ms:.2f} ms, {one.cpu_us_per_delivery:.2f} us; ratios "
                f"{other.deliveries_per_second / max(1e-9, one.deliveries_per_second):.2f}x "
                "deliveries/s, "
                f"{other.cpu_us_per_delivery / max(1e-9, one.cpu_us_per_delivery):.2f}x CPU, "
                f"p50 {other.p50_ms - one.p50_ms:+.2f} ms"
            )
    return lines


def cluster_ratio_rows(
    results: list[CaseResult], columns: tuple[tuple[str, str], ...]
) -> list[list[str]]:
    """Each configuration over one node with the memory broker, per phase."""
    rows: list[list[str]] = []
    for label in configurations(results):
        for phase in (BURST, STEADY):
            found = pair(results, phase, label)
            if found is None:
                continue
            one, other = found
            row: list[str] = []
            for _, attr in columns:
                if attr == "scenario":
                    row.append("cluster")
                elif attr == "server":
                    row.append(f"{label} / {SINGLE}, {phase}")
                elif attr in (
                    "deliveries_per_second",
                    "p50_ms",
                    "p99_ms",
                    "max_ms",
                    "read_p99_ms",
                    "cpu_us_per_delivery",
                ):
                    a, b = getattr(other, attr), getattr(one, attr)
                    row.append(f"{a / b:.2f}" if b else "-")
                else:
                    row.append("")
            rows.append(row)
    return rows


# --- publish throughput -------------------------------------------------------------------


@dataclass
class PublishCase:
    nodes: int
    subscribers: int
    publishers: int  # concurrent requests per node (one publisher process per node)
    broker: str = "redis"
    events: int = 0  # published in all
    failed: int = 0
    seconds: float = 0.0  # from the first request to the last answer
    events_per_second: float = 0.0
    node_cpu_us_per_event: float = 0.0  # the nodes' CPU summed, per event
    redis_cpu_us_per_event: float = 0.0  # INFO cpu, per event
    redis_busy: float = 0.0  # Redis's CPU / wall time
    node_busy: float = 0.0  # the nodes' CPU / wall time, in cores
    publisher_busy: float = 0.0  # the busiest publisher process's CPU / wall time
    deliveries: int = 0  # to the subscribers
    missing: int = 0
    other_load: float = 0.0


@dataclass
class ScriptCeiling:
    """The publish script alone, from redis-benchmark: pipelined, no HTTP, no node."""

    subscribers: int  # pub/sub connections on the event's topic (plain redis-cli)
    calls: int
    calls_per_second: float
    redis_cpu_us_per_call: float


@dataclass
class PublishFigures:
    cases: list[PublishCase] = field(default_factory=list)
    ceilings: list[ScriptCeiling] = field(default_factory=list)
    ceiling_note: str = ""  # why there is no ceiling, if there is none
    redis: str = ""  # which Redis: the run's own or an external one


def run_publish(scenario: Scenario, workdir: Path, redis: RedisServer) -> PublishFigures:
    figures = PublishFigures(redis="external" if redis.external else "own redis-server")
    figures.cases += _publish_cases(scenario, workdir, None, 1)
    for count in dict.fromkeys((1, scenario.nodes)):
        figures.cases += _publish_cases(scenario, workdir, redis, count)
    calls = min(200_000, max(2000, 20 * scenario.events))  # 10,000 events: 200,000 calls
    for subscribers in (0, scenario.nodes):
        ceiling = script_ceiling(redis, calls, subscribers)
        if isinstance(ceiling, str):
            figures.ceiling_note = ceiling
            break
        figures.ceilings.append(ceiling)
    return figures


def _publish_cases(
    scenario: Scenario, workdir: Path, redis: RedisServer | None, count: int
) -> list[PublishCase]:
    """On one set of nodes: publishing with no subscriber, then with ``scenario.clients``.
    ``redis`` None: one node with the memory broker, for reference."""
    prefix = redis.prefix() if redis is not None else ""
    settings = broker_settings(redis, prefix) if redis is not None else {}
    cases: list[PublishCase] = []
    try:
        with Nodes(count, workdir, settings) as nodes:
            for server in nodes.servers:
                warm_up(server)
            urls = [f"http://{HOST}:{port}/api/events" for port in nodes.ports]
            with loadgen.PublisherProcesses(
                urls, scenario.channel, scenario.events, scenario.publishers
            ) as publishers:
                cases.append(_publish_case(scenario, redis, nodes, publishers, 0))
                receivers = Receivers(
                    HOST, nodes.ports, WS_PATH, scenario.channel, scenario.clients, 1
                )
                try:
                    receivers.ready(within=60.0)
                    cases.append(
                        _publish_case(
                            scenario, redis, nodes, publishers, scenario.clients, receivers
                        )
                    )
                finally:
                    receivers.close()
    finally:
        if redis is not None:
            redis.drop(prefix)
    return cases


def _publish_case(
    scenario: Scenario,
    redis: RedisServer | None,
    nodes: Nodes,
    publishers: loadgen.PublisherProcesses,
    subscribers: int,
    receivers: Receivers | None = None,
) -> PublishCase:
    count = len(nodes.servers)
    case = PublishCase(count, subscribers, scenario.publishers, "redis" if redis else "memory")
    if receivers is not None:
        receivers.send("start", time.time())
    time.sleep(0.5)
    node_before = nodes.cpu_seconds()
    redis_before = redis.cpu_seconds() if redis is not None else 0.0
    machine_before = busy_seconds()
    own_before = time.process_time()
    wall_before = time.monotonic()
    done = publishers.go()
    node_cpu = nodes.cpu_seconds() - node_before
    redis_cpu = redis.cpu_seconds() - redis_before if redis is not None else 0.0
    tallies = []
    if receivers is not None:
        last_seq = max(d.published.last_seq for d in done)
        tallies = receivers.finish(last_seq, timeout=30.0)
    ours = node_cpu + redis_cpu + sum(d.cpu_seconds for d in done)
    ours += sum(t.cpu_seconds for t in tallies) + time.process_time() - own_before
    wall = time.monotonic() - wall_before
    case.other_load = max(0.0, (busy_seconds() - machine_before - ours) / wall)
    case.events = sum(d.published.events for d in done)
    case.failed = sum(d.published.failed for d in done)
    first = min(d.published.first_at for d in done)
    case.seconds = max(1e-9, max(d.ended_at for d in done) - first)
    case.events_per_second = case.events / case.seconds
    case.node_cpu_us_per_event = node_cpu / max(1, case.events) * 1e6
    case.redis_cpu_us_per_event = redis_cpu / max(1, case.events) * 1e6
    case.redis_busy = redis_cpu / case.seconds
    case.node_busy = node_cpu / case.seconds
    case.publisher_busy = max(d.cpu_seconds / max(1e-9, d.published.seconds) for d in done)
    case.deliveries = sum(t.received for t in tallies)
    case.missing = sum(t.missing for t in tallies)
    if case.failed:
        raise RuntimeError(f"{case.failed} publishes failed ({count} nodes)")
    return case


def script_ceiling(redis: RedisServer, calls: int, subscribers: int) -> ScriptCeiling | str:
    """redis-benchmark calls the publish script, 16 deep on 8 connections, with a payload
    like the bench's; with ``subscribers`` plain pub/sub connections on its topic. A reason
    instead where it cannot run."""
    binary = shutil.which("redis-benchmark")
    cli = shutil.which("redis-cli")
    if binary is None or cli is None:
        return "redis-benchmark is not installed"
    parts = urlsplit(redis.url)
    if parts.scheme != "redis" or parts.password or parts.username:
        return "redis-benchmark runs only against a plain redis:// URL without a password"
    where = ["-h", parts.hostname or HOST, "-p", str(parts.port or 6379)]
    prefix = redis.prefix()
    sha = str(redis.client.script_load(PUBLISH))
    topic = f"{prefix}:ch:ceiling"
    listeners = [
        subprocess.Popen(
            [cli, *where, "subscribe", topic],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(subscribers)
    ]
    try:
        deadline = time.monotonic() + 5.0
        while subscribers and time.monotonic() < deadline:
            counts: Any = redis.client.pubsub_numsub(topic)
            if counts and int(counts[0][1]) >= subscribers:
                break
            time.sleep(0.05)
        payload = (
            '{"event":"bench.tick","data":{"t":1700000000.123456,"n":1},'
            '"timestamp":"2024-01-01T00:00:00.000Z"}'
        )
        command = [
            *(binary, *where, "-c", "8", "-P", "16", "-n", str(calls), "--csv"),
            *("EVALSHA", sha, "2", f"{prefix}:meta:ceiling", f"{prefix}:stream:ceiling"),
            *(payload, "1000", "600", topic, "ceiling-epoch"),
        ]
        before = redis.cpu_seconds()
        out = subprocess.run(command, capture_output=True, text=True, timeout=300, check=True)
        cpu = redis.cpu_seconds() - before
    finally:
        for listener in listeners:
            listener.terminate()
            listener.wait(5)
        redis.drop(prefix)
    line = out.stdout.strip().splitlines()[-1]
    rps = float(line.rsplit('","', 7)[1].strip('"'))
    return ScriptCeiling(subscribers, calls, rps, cpu / calls * 1e6)


def publish_lines(figures: PublishFigures) -> list[str]:
    lines: list[str] = []
    for case in figures.cases:
        subs = f"{case.subscribers} subscribers" if case.subscribers else "no subscriber"
        redis = (
            f"Redis {case.redis_cpu_us_per_event:.1f} us/event ({case.redis_busy:.0%} of a core); "
            if case.broker == "redis"
            else ""
        )
        lines.append(
            f"publish: {case.nodes} node{'s' if case.nodes > 1 else ''} ({case.broker}), {subs}, "
            f"{case.publishers} concurrent HTTP publishers per node: "
            f"{case.events_per_second:,.0f} events/s ({case.events:,} in {case.seconds:.2f} s); "
            f"node CPU {case.node_cpu_us_per_event:.0f} us/event ({case.node_busy:.2f} cores), "
            f"{redis}publisher busy {case.publisher_busy:.0%}"
            + (
                f"; {case.deliveries:,} delivered, {case.missing} missing"
                if case.subscribers
                else ""
            )
            + f"; other load {case.other_load:.2f} cores"
        )
    for ceiling in figures.ceilings:
        subs = (
            f"{ceiling.subscribers} pub/sub subscribers" if ceiling.subscribers else "no subscriber"
        )
        lines.append(
            f"publish script alone (redis-benchmark, 8 connections x 16 pipelined, {subs}): "
            f"{ceiling.calls_per_second:,.0f} calls/s, Redis CPU "
            f"{ceiling.redis_cpu_us_per_call:.1f} us per call "
            f"(one Redis core: at most {1e6 / ceiling.redis_cpu_us_per_call:,.0f} publishes/s)"
        )
    if figures.ceiling_note:
        lines.append(f"publish script alone: not measured ({figures.ceiling_note})")
    if figures.redis:
        lines.append(f"publish: Redis was {figures.redis}")
    return lines
