"""The benchmark's own machinery, run small: both servers, the load generator, the report.

Functional only: every delivery must arrive and every figure must be there; nothing is timed.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from bench import report
from bench.receiver import raise_nofile
from bench.scenarios import CaseResult, Scenario, run_case
from bench.servers import SERVER_KINDS, ServerKind

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
