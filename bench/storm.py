"""The reconnect storm: every client of a channel loses its socket at once, then recovers.

The clients connect with ``auto_subscribe=false`` and subscribe to one channel while a
publisher sends a steady rate of events. At one moment every receiver worker resets all its
sockets (a TCP RST, no close frame) and reconnects each client at once, subscribing with
``since`` = its last seq and the channel's epoch (docs/protocol.md, Recovery). The publisher
keeps going throughout. At the end every client must have had every seq of the run, from its
first subscription to the last publish, exactly once and in order.

Only livewatch runs it: the naive server keeps no history, so there is nothing to recover.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path

from bench.loadgen import Receivers, SteadyPublisher
from bench.receiver import Recovery, Tally
from bench.scenarios import Scenario, busy_seconds, percentile, warm_up
from bench.servers import HOST, WS_PATH, ServerProcess

RECOVER_WITHIN = 30.0  # seconds after the drop before a client still not back counts as lost
DROP_DELAY = 0.3  # seconds between the drop command and the drop, so all workers reset together
SETTLE = 0.5  # seconds of publishing before the steady fan-out's CPU is measured
TARGET_SECONDS = 3.0
# A dropped SYN is resent after 1 s, then 2 s and 4 s later: clients come back in steps
BACK_WITHIN = (0.5, 1.0, 2.0, 3.0, 4.0, 8.0, 16.0)


@dataclass
class StormResult:
    clients: int
    receivers: int
    client_nice: int
    rate: float
    steady_seconds: float  # publishing before the drop (after a settling SETTLE) and after
    spread: float = 0.0  # reconnects spread at random over this many seconds (0: at once)
    events: int = 0  # published over the whole run
    deliveries: int = 0  # event frames the clients received over the whole run
    recovered: int = 0  # clients answered `subscribed` with recovered: true
    not_recovered: dict[str, int] = field(default_factory=dict)  # reason -> clients
    replayed: int = 0  # event frames received between a reconnect and its `subscribed`
    drop_spread_ms: float = 0.0  # from the first socket reset to the last
    # From the first reset until the last `subscribed` was in its client's socket (kernel
    # timestamp), and until the client had read it
    all_live_seconds: float = 0.0
    all_live_read_seconds: float = 0.0
    # per recovered client, from its own reset to its `subscribed` in the socket
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    read_p50_ms: float = 0.0
    read_p99_ms: float = 0.0
    # recovered clients back within each of BACK_WITHIN seconds of their reset
    back_within: dict[str, int] = field(default_factory=dict)
    lost: int = 0  # seqs missing at clients that were answered recovered: true
    missing_not_recovered: int = 0  # seqs missing at the other clients
    duplicates: int = 0
    reordered: int = 0
    closed: int = 0  # connections the server closed or reset
    # Server CPU from the drop until every client was back (or given up), in all and per
    # recovered client; the live fan-out to the clients already back goes on meanwhile and
    # is counted in. For scale, the steady fan-out's rate just before the drop, in cores.
    # (No share of the storm is put on the fan-out: its cost per event falls as events
    # bunch up in a busy server, so the rate before the drop does not carry over.)
    storm_seconds: float = 0.0
    server_cpu_seconds: float = 0.0
    cpu_ms_per_client: float = 0.0
    steady_cores: float = 0.0
    # Linux counters (machine-wide, TcpExt) over the same window: connection attempts the
    # server's listen queue had no room for, so the client's kernel had to resend the SYN
    listen_overflows: int = 0
    listen_drops: int = 0
    receiver_busy: float = 0.0
    other_load: float = 0.0

    @property
    def met(self) -> bool:
        return (
            self.recovered == self.clients
            and self.all_live_seconds <= TARGET_SECONDS
            and self.lost == 0
            and self.duplicates == 0
            and self.reordered == 0
        )


def tcp_ext() -> dict[str, int]:
    """The kernel's TcpExt counters (/proc/net/netstat); empty where there are none."""
    try:
        lines = [line.split() for line in Path("/proc/net/netstat").read_text().splitlines()]
    except OSError:
        return {}
    for names, values in itertools.pairwise(lines):
        if names and names[0] == "TcpExt:" and values and values[0] == "TcpExt:":
            return {n: int(v) for n, v in zip(names[1:], values[1:], strict=True)}
    return {}


def run_storm(scenario: Scenario, workdir: Path) -> StormResult:
    result = StormResult(
        scenario.clients,
        scenario.receivers,
        scenario.client_nice,
        scenario.rate or 0.0,
        scenario.duration,
        scenario.spread,
    )
    settings = dict(scenario.settings)
    with ServerProcess("livewatch", workdir, settings=settings) as server:
        warm_up(server)
        receivers = Receivers(
            HOST,
            server.port,
            WS_PATH,
            scenario.channel,
            scenario.clients,
            scenario.receivers,
            scenario.client_nice,
            query="auto_subscribe=false",
        )
        publisher: SteadyPublisher | None = None
        try:
            receivers.all_connected()
            time.sleep(0.5)
            receivers.send("start", math.inf)  # CPU accounting from here; no latencies
            server_before = server.cpu_seconds()
            machine_before = busy_seconds()
            own_before = time.process_time()
            wall_before = time.monotonic()
            publisher = SteadyPublisher(
                f"http://{HOST}:{server.port}/api/events", scenario.channel, result.rate
            )
            publisher.start()
            time.sleep(SETTLE)

            steady_cpu = server.cpu_seconds()
            steady_began = time.monotonic()
            time.sleep(scenario.duration)
            at = time.time() + DROP_DELAY
            receivers.send("drop_and_recover", at, RECOVER_WITHIN, scenario.spread)
            steady_rate = (server.cpu_seconds() - steady_cpu) / (time.monotonic() - steady_began)
            time.sleep(max(0.0, at - time.time()))
            cpu_before = server.cpu_seconds()
            counters_before = tcp_ext()
            storm_began = time.monotonic()
            recoveries: list[Recovery] = receivers.recovered(RECOVER_WITHIN + 30.0)
            result.storm_seconds = time.monotonic() - storm_began
            result.server_cpu_seconds = server.cpu_seconds() - cpu_before
            counters = tcp_ext()

            time.sleep(scenario.duration)
            published = publisher.stop()
            publisher = None
            if published.failed:
                raise RuntimeError(f"{published.failed} publishes failed")
            tallies = receivers.finish(published.last_seq, timeout=30.0)
            server_cpu = server.cpu_seconds() - server_before
            ours = server_cpu + sum(t.cpu_seconds for t in tallies)
            ours += time.process_time() - own_before
            wall = time.monotonic() - wall_before
            result.other_load = max(0.0, (busy_seconds() - machine_before - ours) / wall)
            result.events = published.events
        finally:
            if publisher is not None:
                with contextlib.suppress(Exception):
                    publisher.stop(5.0)
            receivers.close()
    result.steady_cores = steady_rate
    for name, attr in (("ListenOverflows", "listen_overflows"), ("ListenDrops", "listen_drops")):
        setattr(result, attr, counters.get(name, 0) - counters_before.get(name, 0))
    account(result, recoveries, tallies)
    if result.closed or result.not_recovered:
        print(f"  livewatch log tail:\n{server.log_tail(5)}")
    return result


def account(result: StormResult, recoveries: list[Recovery], tallies: list[Tally]) -> None:
    seconds = array("d")
    read_seconds = array("d")
    for recovery in recoveries:
        seconds.frombytes(recovery.seconds)
        read_seconds.frombytes(recovery.read_seconds)
        result.recovered += recovery.recovered
        result.replayed += recovery.replayed
        for reason, count in recovery.failures.items():
            result.not_recovered[reason] = result.not_recovered.get(reason, 0) + count
    dropped = [r for r in recoveries if r.clients]
    first_drop = min((r.dropped_first for r in dropped), default=0.0)
    last_drop = max((r.dropped_last for r in dropped), default=0.0)
    result.drop_spread_ms = (last_drop - first_drop) * 1000
    if result.recovered:
        result.all_live_seconds = max(r.last_live for r in recoveries) - first_drop
        result.all_live_read_seconds = max(r.last_live_read for r in recoveries) - first_drop
    ordered = sorted(seconds)
    result.p50_ms = percentile(ordered, 0.50) * 1000
    result.p99_ms = percentile(ordered, 0.99) * 1000
    result.max_ms = (ordered[-1] if ordered else 0.0) * 1000
    for bound in BACK_WITHIN:
        result.back_within[f"{bound:g}"] = sum(1 for t in ordered if t <= bound)
    read = sorted(read_seconds)
    result.read_p50_ms = percentile(read, 0.50) * 1000
    result.read_p99_ms = percentile(read, 0.99) * 1000
    for tally in tallies:
        result.deliveries += tally.received
        result.lost += tally.missing - tally.missing_not_recovered
        result.missing_not_recovered += tally.missing_not_recovered
        result.duplicates += tally.duplicates
        result.reordered += tally.reordered
        result.closed += tally.closed
    if result.recovered:
        result.cpu_ms_per_client = result.server_cpu_seconds / result.recovered * 1000
    result.receiver_busy = max(
        (t.cpu_seconds / max(1e-9, t.wall_seconds) for t in tallies), default=0.0
    )


def summary(result: StormResult) -> list[str]:
    """The storm's figures as lines for the console and the markdown report."""
    lost = f"{result.lost} lost, {result.duplicates} duplicated, {result.reordered} out of order"
    failures = ", ".join(f"{n} {reason}" for reason, n in sorted(result.not_recovered.items()))
    lines = [
        f"reconnect storm: {result.clients:,} clients on one channel "
        f"({result.receivers} receiver{'s' if result.receivers > 1 else ''}"
        f"{f', nice {result.client_nice}' if result.client_nice else ''}), "
        f"{result.rate:g} events/s throughout; every socket reset at once "
        f"(spread {result.drop_spread_ms:.0f} ms), every client reconnects "
        + (f"after a random 0-{result.spread * 1000:.0f} ms" if result.spread else "at once")
        + " with since",
        f"all live again: {result.recovered:,}/{result.clients:,} recovered in "
        f"{result.all_live_seconds:.2f} s after the reset ({result.all_live_read_seconds:.2f} s "
        f"as read); per client p50 {result.p50_ms:.0f} ms, p99 {result.p99_ms:.0f} ms, "
        f"max {result.max_ms:.0f} ms (p99 read {result.read_p99_ms:.0f} ms)",
        f"events: {result.events:,} published, {result.deliveries:,} received, "
        f"{result.replayed:,} of them replayed; {lost}"
        + (
            f"; {result.missing_not_recovered} missing at clients not recovered" if failures else ""
        ),
        "back within: "
        + ", ".join(f"{bound} s {n:,}" for bound, n in result.back_within.items())
        + f" (of {result.recovered:,} recovered)",
        f"not recovered: {failures or 'none'}; closed by the server: {result.closed}",
        f"server CPU during the storm ({result.storm_seconds:.2f} s): "
        f"{result.server_cpu_seconds:.2f} s, {result.cpu_ms_per_client:.2f} ms per recovered "
        f"client, the live fan-out included (the steady fan-out used "
        f"{result.steady_cores:.2f} cores before the drop)",
        f"listen queue overflows (SYNs dropped, resent after 1 s): {result.listen_overflows:,}; "
        f"client busy {result.receiver_busy:.0%}; other load {result.other_load:.2f} cores",
    ]
    return lines


NAIVE_SKIPPED = (
    "livewatch only: the naive server keeps no history, so it has nothing to recover a client from"
)
