"""The benchmark's own machinery, run small: both servers, the load generator, the reconnect
storm, the cost of history, several nodes over Redis, the report.

Functional only: every delivery must arrive and every figure must be there; nothing is timed.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import shutil
import socket
import threading
import time
from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import cluster, report, storm
from bench.cluster import run_cluster, run_publish
from bench.history import HistoryMemory, measure_history_memory
from bench.receiver import Client, Loop, ReceiverConfig, Recovery, Tally, raise_nofile
from bench.scenarios import (
    HISTORY_DEFAULT,
    HISTORY_ONE,
    CaseResult,
    Scenario,
    run_case,
    run_history,
)
from bench.servers import SERVER_KINDS, RedisServer, ServerKind, ServerProcess
from bench.storm import StormResult, account, run_storm

CLIENTS = 20
EVENTS = 50


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[ServerKind, CaseResult]:
    raise_nofile(1024)
    workdir = tmp_path_factory.mktemp("bench")
    scenario = Scenario("cost", "smoke", CLIENTS, events=EVENTS, publishers=4)
    return {kind: run_case(scenario, kind, workdir) for kind in SERVER_KINDS}


@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_every_delivery_arrives_with_every_figure(
    results: dict[ServerKind, CaseResult], kind: ServerKind
) -> None:
    result = results[kind]
    assert result.deliveries == CLIENTS * EVENTS
    assert (result.missing, result.reordered, result.closed) == (0, 0, 0)
    assert result.timed == CLIENTS * EVENTS
    for name, value in result.figures().items():
        assert value > 0, f"{kind}: {name} is {value}"
    assert result.p50_ms <= result.p99_ms <= result.max_ms
    assert result.read_p99_ms >= result.p99_ms, "a frame is read after it arrives"


def test_report_has_both_servers_their_ratio_and_the_machine(
    results: dict[ServerKind, CaseResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    scenario = Scenario("cost", "smoke", CLIENTS, events=EVENTS, publishers=4)
    cases = [results[kind] for kind in SERVER_KINDS]
    json_path, md_path, meta = report.write("smoke", cases, {"cost": scenario}, "smoke", "test")

    saved = json.loads(json_path.read_text())
    assert [r["server"] for r in saved["results"]] == list(SERVER_KINDS)
    assert saved["results"][0] == json.loads(json.dumps(dataclasses.asdict(cases[0])))
    assert saved["machine"]["nproc"] >= 1 and saved["machine"]["aiohttp"]
    assert [v["scenario"] for v in meta["targets"]] == ["cost"]

    table = report.console_table(cases)
    assert "livewatch/naive" in table
    markdown = md_path.read_text()
    assert "| cost | livewatch/naive |" in markdown
    assert saved["machine"]["cpu_model"] in markdown


STORM_CLIENTS = 20


@pytest.fixture(scope="module")
def storm_result(tmp_path_factory: pytest.TempPathFactory) -> StormResult:
    raise_nofile(1024)
    scenario = Scenario("storm", "smoke", STORM_CLIENTS, rate=100.0, duration=0.5)
    return run_storm(scenario, tmp_path_factory.mktemp("storm"))


def test_storm_every_client_recovers_every_seq_exactly_once(storm_result: StormResult) -> None:
    result = storm_result
    assert result.recovered == STORM_CLIENTS and result.not_recovered == {}
    assert (result.lost, result.duplicates, result.reordered, result.closed) == (0, 0, 0, 0)
    # every client subscribed before the first publish: it must see every event once
    assert result.events > 0 and result.deliveries == STORM_CLIENTS * result.events
    assert 0 < result.all_live_seconds < storm.RECOVER_WITHIN
    assert 0 < result.p50_ms <= result.p99_ms <= result.max_ms
    assert result.back_within[f"{storm.BACK_WITHIN[-1]:g}"] == STORM_CLIENTS
    assert result.server_cpu_seconds >= 0 and result.storm_seconds > 0
    assert result.cpu_ms_per_client == pytest.approx(
        result.server_cpu_seconds / STORM_CLIENTS * 1000
    )
    assert result.met == (result.all_live_seconds <= storm.TARGET_SECONDS)


def test_storm_with_reconnects_spread_over_time(tmp_path: Path) -> None:
    scenario = Scenario("storm", "smoke", 10, rate=100.0, duration=0.3, spread=0.3)
    result = run_storm(scenario, tmp_path)
    assert (result.recovered, result.lost, result.duplicates) == (10, 0, 0)
    assert result.deliveries == 10 * result.events
    assert result.spread == 0.3 and "after a random 0-300 ms" in storm.summary(result)[0]


def test_a_client_not_back_in_time_is_given_up_and_its_gap_is_not_a_loss() -> None:
    """Reconnects to a listener that completes the TCP handshake but never answers."""
    with socket.socket() as silent, socket.socket() as first:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        first.bind(("127.0.0.1", 0))
        first.listen(16)
        clients = []
        for _ in range(3):
            sock = socket.create_connection(first.getsockname())
            sock.setblocking(False)
            clients.append(Client(sock, sub_seq=5, leftover=b"", epoch="e"))
        ours, theirs = multiprocessing.Pipe()
        config = ReceiverConfig("127.0.0.1", silent.getsockname()[1], "/ws", "bench", 3)
        loop = Loop(theirs, config, clients)
        thread = threading.Thread(target=loop.run, daemon=True)
        thread.start()
        try:
            ours.send(("drop_and_recover", time.time(), 0.5, 0.0))
            assert ours.poll(10)
            kind, recovery = ours.recv()
            assert kind == "recovered" and recovery.recovered == 0
            assert recovery.failures == {"no upgrade answer within 0.5 s": 3}
            ours.send(("finish", 7, 1.0))
            assert ours.poll(10)
            kind, tally = ours.recv()
            assert kind == "done" and tally.closed == 3
            assert tally.missing == tally.missing_not_recovered == 3 * 2  # seqs 6 and 7
        finally:
            ours.send(("close",))
            thread.join(5)


def test_storm_accounting_tells_lost_from_not_recovered() -> None:
    result = StormResult(clients=4, receivers=2, client_nice=0, rate=50.0, steady_seconds=1.0)
    seconds = array("d", [0.2, 0.4, 0.3]).tobytes()
    recoveries = [
        Recovery(
            2,
            recovered=2,
            replayed=10,
            dropped_first=100.0,
            dropped_last=100.01,
            seconds=seconds[:16],
            read_seconds=seconds[:16],
            last_live=100.4,
            last_live_read=100.41,
        ),
        Recovery(
            2,
            recovered=1,
            replayed=5,
            dropped_first=100.02,
            dropped_last=100.03,
            failures={"too_old": 1},
            seconds=seconds[16:],
            read_seconds=seconds[16:],
            last_live=100.32,
            last_live_read=100.33,
        ),
    ]
    tallies = [Tally(2, received=40, duplicates=1), Tally(2, missing=7, missing_not_recovered=7)]
    account(result, recoveries, tallies)
    assert (result.recovered, result.not_recovered, result.replayed) == (3, {"too_old": 1}, 15)
    assert (result.lost, result.missing_not_recovered, result.duplicates) == (0, 7, 1)
    assert result.all_live_seconds == pytest.approx(0.4)
    assert result.back_within["0.5"] == 3
    assert not result.met


@pytest.fixture(scope="module")
def history_results(tmp_path_factory: pytest.TempPathFactory) -> list[CaseResult]:
    raise_nofile(1024)
    scenario = Scenario("history", "smoke", CLIENTS, events=EVENTS, publishers=4)
    return run_history(scenario, tmp_path_factory.mktemp("history"))


def test_history_runs_livewatch_with_history_at_its_default_and_at_one(
    history_results: list[CaseResult],
) -> None:
    assert [r.variant for r in history_results] == [HISTORY_DEFAULT, HISTORY_ONE]
    for result in history_results:
        assert (result.server, result.deliveries, result.missing) == ("livewatch", 1000, 0)
        assert result.cpu_us_per_delivery > 0
    found = report.history_ratio(history_results)
    assert found is not None and found[2] == pytest.approx(found[0] / found[1])


def test_a_setting_reaches_the_server_and_a_typo_is_refused(tmp_path: Path) -> None:
    server = ServerProcess("livewatch", tmp_path, settings={"history_size": "1"})
    assert server.environment()["LIVEWATCH_HISTORY_SIZE"] == "1"
    with pytest.raises(ValueError, match="history_sise"):
        ServerProcess("livewatch", tmp_path, settings={"history_sise": "1"})
    with pytest.raises(ValueError, match="naive"):
        ServerProcess("naive", tmp_path, settings={"history_size": "1"})


def test_history_memory_is_measured() -> None:
    memory = measure_history_memory(channels=2, per_channel=100)
    assert memory.payload_bytes > 50
    # the payload, a tuple, a seq, a time and a deque slot: more than the payload alone
    assert memory.payload_bytes < memory.traced_bytes_per_event < 4 * memory.payload_bytes
    assert memory.publish_us > 0 and memory.publish_us_history_1 > 0


def test_report_has_the_storm_history_and_their_targets(
    results: dict[ServerKind, CaseResult],
    storm_result: StormResult,
    history_results: list[CaseResult],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    memory = HistoryMemory(2, 100, 97, 251.0, 270.0, 24.5, 1.4, 1.4)
    cases = [results["livewatch"], *history_results]
    scenario = Scenario("history", "smoke", CLIENTS, events=EVENTS, publishers=4)
    json_path, md_path, meta = report.write(
        "smoke",
        cases,
        {"history": scenario},
        "smoke",
        "test",
        storm=storm_result,
        history_memory=memory,
    )
    assert [v["scenario"] for v in meta["targets"]] == ["cost", "storm", "history"]
    saved = json.loads(json_path.read_text())
    assert saved["storm"]["recovered"] == STORM_CLIENTS
    assert saved["history_memory"]["payload_bytes"] == 97
    markdown = md_path.read_text()
    assert "| history | history 1000/1 |" in markdown
    assert "reconnect storm:" in markdown and "251 bytes per stored event" in markdown


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def cluster_results(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> list[CaseResult]:
    raise_nofile(1024)
    scenario = Scenario(
        "cluster", "smoke", 12, events=20, publishers=4, rate=100.0, duration=0.2, nodes=3
    )
    return run_cluster(scenario, tmp_path_factory.mktemp("cluster"), redis_server)


def test_cluster_every_subscriber_on_every_node_gets_every_seq_once(
    cluster_results: list[CaseResult], redis_server: RedisServer
) -> None:
    assert [(r.nodes, r.variant) for r in cluster_results] == [
        (1, "1 node, memory, burst"),
        (1, "1 node, memory, steady"),
        (1, "1 node, redis, burst"),
        (1, "1 node, redis, steady"),
        (3, "3 nodes, redis, burst"),
        (3, "3 nodes, redis, steady"),
    ]
    for result in cluster_results:
        assert cluster.exact(result), result
        assert result.deliveries == result.timed == 12 * 20
        # CPU times tick in 10 ms: a phase this small may read 0
        assert result.cpu_us_per_delivery >= 0 and result.p50_ms > 0
    assert cluster_results[1].client_nice == 0  # the steady phase's niceness is the scenario's
    assert cluster_results[0].broker_cpu_us_per_delivery == 0  # the memory broker: no Redis
    # the run's keys are gone from Redis afterwards
    assert not list(redis_server.client.scan_iter(match="lwbench-*"))


def test_cluster_targets_and_ratios_are_reported(
    cluster_results: list[CaseResult], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    verdicts = cluster.cluster_verdicts(cluster_results)
    assert [v["target"] for v in verdicts] == [
        "p50 at most 2 ms over one node (steady)",
        "node CPU per delivery within 1.5x of one node (burst and steady)",
        "every subscriber gets every seq, in order, once",
    ]
    assert verdicts[2]["met"]
    table = report.console_table(cluster_results)
    assert "3 nodes, redis / 1 node, memory, burst" in table
    assert "1 node, redis / 1 node, memory, steady" in table
    lines = cluster.cluster_lines(cluster_results)
    assert len(lines) == 4 and "us in Redis" in lines[0]
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    scenario = Scenario("cluster", "smoke", 12, events=20, publishers=4, nodes=3)
    _, md_path, meta = report.write("smoke", cluster_results, {"cluster": scenario}, "smoke", "t")
    assert [v["scenario"] for v in meta["targets"]] == ["cluster"] * 3
    assert "cluster steady, 3 nodes, redis:" in md_path.read_text()


def test_publish_throughput_on_one_and_three_nodes(
    redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = Scenario("publish", "smoke", 3, events=30, publishers=2, nodes=3)
    figures = run_publish(scenario, tmp_path, redis_server)
    assert [(c.broker, c.nodes, c.subscribers) for c in figures.cases] == [
        ("memory", 1, 0),
        ("memory", 1, 3),
        ("redis", 1, 0),
        ("redis", 1, 3),
        ("redis", 3, 0),
        ("redis", 3, 3),
    ]
    for case in figures.cases:
        assert case.events == 30 * case.nodes and case.failed == 0
        assert case.events_per_second > 0 and case.node_cpu_us_per_event > 0
        assert case.deliveries == case.subscribers * case.events and case.missing == 0
        if case.broker == "memory":
            assert case.redis_cpu_us_per_event == 0
    if shutil.which("redis-benchmark"):
        assert [c.subscribers for c in figures.ceilings] == [0, 3]
        assert all(c.calls_per_second > 0 and c.redis_cpu_us_per_call > 0 for c in figures.ceilings)
    assert not list(redis_server.client.scan_iter(match="lwbench-*"))
    monkeypatch.setattr(report, "RESULTS_DIR", tmp_path)
    json_path, md_path, _ = report.write(
        "smoke", [], {"publish": scenario}, "smoke", "t", publish=figures
    )
    assert report.publish_figures(json.loads(json_path.read_text())["publish"]) == figures
    assert "publish: 3 nodes (redis), 3 subscribers" in md_path.read_text()
