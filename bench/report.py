"""The results: a console table, bench/results/NAME.json and NAME.md, and the targets."""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from bench import cluster, history, storm
from bench.cluster import PublishFigures, ScriptCeiling
from bench.floor import Floor
from bench.history import HistoryMemory
from bench.scenarios import (
    HISTORY_DEFAULT,
    HISTORY_ONE,
    CaseResult,
    Kind,
    Scenario,
    pooled_us_per_delivery,
)
from bench.scrape import CollectorResult, ScrapeReport, ScrapeResult
from bench.storm import StormResult

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "aiohttp": aiohttp.__version__,
    }


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR.parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=RESULTS_DIR.parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


@dataclass(frozen=True)
class Target:
    scenario: Kind
    text: str
    check: Callable[[CaseResult, CaseResult | None], tuple[bool, str]]


def _cost(lw: CaseResult, ref: CaseResult | None) -> tuple[bool, str]:
    ok = lw.cpu_us_per_delivery <= 4.0
    text = f"{lw.cpu_us_per_delivery:.2f} us/delivery"
    if ref is not None:
        ratio = ref.cpu_us_per_delivery / max(1e-9, lw.cpu_us_per_delivery)
        ok = ok and ratio >= 3.0
        text += f", {ratio:.1f}x cheaper than naive"
    return ok, text


def _latency(lw: CaseResult, _: CaseResult | None) -> tuple[bool, str]:
    return (
        lw.missing == 0 and lw.p99_ms <= 10.0,
        f"p99 {lw.p99_ms:.2f} ms at arrival ({lw.read_p99_ms:.2f} ms as read by the load "
        "generator)",
    )


def _scale(lw: CaseResult, _: CaseResult | None) -> tuple[bool, str]:
    return (
        lw.missing == 0 and lw.closed == 0 and lw.p99_ms <= 100.0,
        f"{lw.deliveries:,} received, {lw.missing} missing, p99 {lw.p99_ms:.1f} ms at arrival "
        f"({lw.read_p99_ms:.1f} ms as read)",
    )


def _memory(lw: CaseResult, _: CaseResult | None) -> tuple[bool, str]:
    return lw.rss_per_connection_kb <= 18.0, f"{lw.rss_per_connection_kb:.1f} KB"


# Latency targets are judged at arrival: the kernel's receive timestamp on the client
# socket. The read time also counts the load generator's own queueing on the same cores.
TARGETS = (
    Target("cost", "<= 4 us/delivery and >= 3x cheaper than naive", _cost),
    Target("latency", "p99 <= 10 ms", _latency),
    Target("memory", "<= 18 KB RSS per idle connection", _memory),
    Target("scale", "every message, p99 <= 100 ms", _scale),
)
HISTORY_MAX_RATIO = 1.10


def history_ratio(results: list[CaseResult]) -> tuple[float, float, float] | None:
    """(us/delivery with history 1000, with history 1, their ratio), each pooled over its
    runs; None without both."""
    full = pooled_us_per_delivery(results, HISTORY_DEFAULT)
    one = pooled_us_per_delivery(results, HISTORY_ONE)
    if not full or not one:
        return None
    return full, one, full / one


def _history_verdict(results: list[CaseResult]) -> dict[str, Any] | None:
    found = history_ratio(results)
    if found is None:
        return None
    full, one, ratio = found
    runs = sum(1 for r in results if r.variant == HISTORY_DEFAULT)
    each = f" ({runs} runs each)" if runs > 1 else ""
    return {
        "scenario": "history",
        "target": f"history adds at most {HISTORY_MAX_RATIO - 1:.0%} per delivery",
        "measured": f"{full:.2f} us/delivery with history 1000, {one:.2f} with history 1"
        f"{each}: ratio {ratio:.2f} ({ratio - 1:+.0%})",
        "met": ratio <= HISTORY_MAX_RATIO,
    }


def _storm_verdict(result: StormResult) -> dict[str, Any]:
    within = f"{result.all_live_seconds:.2f} s" if result.recovered else "-"
    return {
        "scenario": "storm",
        "target": f"all {result.clients:,} recovered within {storm.TARGET_SECONDS:g} s, "
        "0 lost, 0 duplicated",
        "measured": f"{result.recovered:,}/{result.clients:,} recovered, all of them within "
        f"{within}; {result.lost} lost, {result.duplicates} duplicated, "
        f"{result.reordered} out of order",
        "met": result.met,
    }


def verdicts(results: list[CaseResult], storm: StormResult | None = None) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for target in TARGETS:
        lw = _find(results, target.scenario, "livewatch")
        if lw is None:
            continue
        ok, measured = target.check(lw, _find(results, target.scenario, "naive"))
        found.append(
            {"scenario": target.scenario, "target": target.text, "measured": measured, "met": ok}
        )
    if storm is not None:
        found.append(_storm_verdict(storm))
    verdict = _history_verdict(results)
    if verdict is not None:
        found.append(verdict)
    found += cluster.cluster_verdicts(results)
    return found


def _find(results: list[CaseResult], scenario: str, server: str) -> CaseResult | None:
    return next((r for r in results if r.scenario == scenario and r.server == server), None)


COLUMNS = (
    ("scenario", "scenario"),
    ("server", "server"),
    ("clients", "clients"),
    ("load", "load"),
    ("deliveries", "deliveries"),
    ("missing", "missing"),
    ("deliveries/s", "deliveries_per_second"),
    ("p50 ms", "p50_ms"),
    ("p99 ms", "p99_ms"),
    ("max ms", "max_ms"),
    ("p99 read ms", "read_p99_ms"),
    ("CPU us/delivery", "cpu_us_per_delivery"),
    ("RSS KB/conn", "rss_per_connection_kb"),
    ("client busy", "receiver_busy"),
    ("other load", "other_load"),
)


RATIO_ATTRS = (
    "deliveries_per_second",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "read_p99_ms",
    "cpu_us_per_delivery",
    "rss_per_connection_kb",
)


def _load(result: CaseResult) -> str:
    if result.scenario == "memory":
        return "idle"
    if result.scenario == "scale":
        return f"collector {result.rate or 0:g}/s x {result.events}"
    if result.rate:
        return f"{result.events} ev at {result.rate:g}/s"
    return f"{result.events} ev, {result.publishers} pub"


def _cell(result: CaseResult, attr: str) -> str:
    if attr == "load":
        return _load(result)
    if attr == "server" and result.variant:
        return f"{result.server}, {result.variant}"
    value = getattr(result, attr)
    measured = result.scenario != "memory"
    if attr == "rss_per_connection_kb":
        return "-" if result.scenario == "cluster" else f"{value:.1f}"  # not measured there
    if not measured and attr not in ("scenario", "server", "clients"):
        return "-"
    if attr == "other_load":
        return f"{value:.2f} cores"
    if attr == "receiver_busy":
        nice = f", nice {result.client_nice}" if result.client_nice else ""
        return f"{value:.0%} x{result.receivers}{nice}"
    if attr == "deliveries_per_second":
        return f"{value:,.0f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _history_row(results: list[CaseResult]) -> list[str] | None:
    """history 1000 against history 1: CPU pooled over the runs, the rest as mean ratios."""
    found = history_ratio(results)
    if found is None:
        return None
    full = [r for r in results if r.variant == HISTORY_DEFAULT]
    one = [r for r in results if r.variant == HISTORY_ONE]
    row: list[str] = []
    for _, attr in COLUMNS:
        if attr == "scenario":
            row.append("history")
        elif attr == "server":
            row.append("history 1000/1")
        elif attr == "cpu_us_per_delivery":
            row.append(f"{found[2]:.2f}")
        elif attr in RATIO_ATTRS and attr != "rss_per_connection_kb":
            a = sum(getattr(r, attr) for r in full) / len(full)
            b = sum(getattr(r, attr) for r in one) / len(one)
            row.append(f"{a / b:.2f}" if b else "-")
        else:
            row.append("")
    return row


def _ratio_rows(results: list[CaseResult]) -> list[list[str]]:
    rows: list[list[str]] = []
    history_row = _history_row(results)
    if history_row is not None:
        rows.append(history_row)
    rows += cluster.cluster_ratio_rows(results, COLUMNS)
    for scenario in dict.fromkeys(r.scenario for r in results if not r.variant):
        lw = _find(results, scenario, "livewatch")
        ref = _find(results, scenario, "naive")
        if lw is None or ref is None:
            continue
        row: list[str] = []
        for _, attr in COLUMNS:
            if attr == "scenario":
                row.append(scenario)
            elif attr == "server":
                row.append("livewatch/naive")
            elif attr in RATIO_ATTRS and (scenario != "memory" or attr == "rss_per_connection_kb"):
                a, b = getattr(lw, attr), getattr(ref, attr)
                row.append(f"{a / b:.2f}" if b else "-")
            else:
                row.append("")
        rows.append(row)
    return rows


def table_rows(results: list[CaseResult]) -> list[list[str]]:
    rows = [[_cell(r, attr) for _, attr in COLUMNS] for r in results]
    return rows + _ratio_rows(results)


def console_table(results: list[CaseResult]) -> str:
    header = [title for title, _ in COLUMNS]
    rows = table_rows(results)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def floor_line(floor: Floor) -> str:
    return (
        f"floor: plain socket.send of one frame to {floor.sockets:,} loopback sockets "
        f"(a reader on the other core), {floor.rounds} rounds: p50 {floor.p50_ms:.1f} ms, "
        f"p99 {floor.p99_ms:.1f} ms a round, {floor.us_per_send:.1f} us per send"
    )


def extra_lines(meta: dict[str, Any]) -> list[str]:
    """The storm's, the history memory's, the cluster's and the publish figures, when they
    were measured."""
    lines: list[str] = []
    lines += cluster.cluster_lines([CaseResult(**r) for r in meta.get("cluster_results") or []])
    if meta.get("publish"):
        lines += cluster.publish_lines(publish_figures(meta["publish"]))
    if meta.get("storm"):
        lines += storm.summary(StormResult(**meta["storm"]))
    if meta.get("history_memory"):
        memory = HistoryMemory(**meta["history_memory"])
        lines += history.summary(memory, meta.get("history_subscribers") or 1000)
    return lines


SCRAPE_P50_TARGET_MS = 2.0
COLLECTOR_TARGET = 0.005  # of one core


def scrape_verdicts(scrape: ScrapeReport) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    lw = next((r for r in scrape.results if r.server == "livewatch"), None)
    ne = next((r for r in scrape.results if r.server == "node_exporter"), None)
    if lw is not None:
        ok = lw.p50_ms <= SCRAPE_P50_TARGET_MS
        text = f"p50 {lw.p50_ms:.2f} ms, {lw.cpu_us_per_series:.2f} us CPU per series"
        if ne is not None:
            ok = ok and lw.cpu_us_per_series <= ne.cpu_us_per_series
            text += (
                f" against node_exporter's {ne.cpu_us_per_series:.2f} us "
                f"(livewatch/node_exporter {lw.cpu_us_per_series / ne.cpu_us_per_series:.2f})"
            )
        found.append(
            {
                "scenario": "scrape",
                "target": "CPU per series <= node_exporter's, p50 <= 2 ms",
                "measured": text,
                "met": ok,
            }
        )
    if scrape.collector is not None:
        c = scrape.collector
        found.append(
            {
                "scenario": "collector",
                "target": "<= 0.5 % of one core at a 1 s interval",
                "measured": f"{c.core_share:.2%} of one core ({c.cpu_ms_per_sample:.2f} ms CPU "
                f"per sample, {c.processes} processes on the host)",
                "met": c.core_share <= COLLECTOR_TARGET,
            }
        )
    return found


SCRAPE_COLUMNS = (
    "exporter",
    "series",
    "gzip'd bytes",
    "CPU ms/scrape",
    "CPU us/series",
    "p50 ms",
    "p99 ms",
    "other load",
)


def _scrape_row(r: ScrapeResult) -> list[str]:
    return [
        f"{r.server} {r.version}",
        f"{r.series:,}",
        f"{r.body_bytes:,}",
        f"{r.cpu_ms_per_scrape:.2f}",
        f"{r.cpu_us_per_series:.2f}",
        f"{r.p50_ms:.2f}",
        f"{r.p99_ms:.2f}",
        f"{r.other_load:.2f} cores",
    ]


def scrape_rows(scrape: ScrapeReport) -> list[list[str]]:
    rows = [_scrape_row(r) for r in scrape.results]
    if len(scrape.results) == 2:
        lw, ne = scrape.results
        rows.append(
            [
                "livewatch/node_exporter",
                f"{lw.series / ne.series:.2f}",
                f"{lw.body_bytes / ne.body_bytes:.2f}",
                f"{lw.cpu_ms_per_scrape / ne.cpu_ms_per_scrape:.2f}",
                f"{lw.cpu_us_per_series / ne.cpu_us_per_series:.2f}",
                f"{lw.p50_ms / ne.p50_ms:.2f}",
                f"{lw.p99_ms / ne.p99_ms:.2f}",
                "",
            ]
        )
    return rows


def collector_line(c: CollectorResult) -> str:
    return (
        f"collector every {c.interval:g} s over {c.seconds:.0f} s: {c.cpu_ms_per_sample:.2f} ms "
        f"CPU per sample, {c.core_share:.2%} of one core (target <= 0.5 %: ratio "
        f"{c.core_share / COLLECTOR_TARGET:.2f}), {c.processes} processes on the host, "
        f"other load {c.other_load:.2f} cores"
    )


def scrape_console(scrape: ScrapeReport) -> str:
    rows = scrape_rows(scrape)
    header = list(SCRAPE_COLUMNS)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(header, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    if scrape.skipped:
        lines.append(scrape.skipped)
    if scrape.collector is not None:
        lines.append(collector_line(scrape.collector))
    return "\n".join(lines)


def scrape_markdown(scrape: ScrapeReport) -> list[str]:
    out = [
        "",
        "| " + " | ".join(SCRAPE_COLUMNS) + " |",
        "|" + "|".join("---" for _ in SCRAPE_COLUMNS) + "|",
    ]
    out += ["| " + " | ".join(row) + " |" for row in scrape_rows(scrape)]
    if scrape.skipped:
        out += ["", f"- {scrape.skipped}"]
    if scrape.collector is not None:
        out += ["", f"- {collector_line(scrape.collector)}"]
    return out


def publish_figures(saved: dict[str, Any]) -> PublishFigures:
    """PublishFigures back from their JSON form."""
    return PublishFigures(
        cases=[cluster.PublishCase(**case) for case in saved["cases"]],
        ceilings=[ScriptCeiling(**ceiling) for ceiling in saved["ceilings"]],
        ceiling_note=saved["ceiling_note"],
        redis=saved["redis"],
    )


def markdown(results: list[CaseResult], meta: dict[str, Any]) -> str:
    info = meta["machine"]
    out = [
        f"# Fan-out benchmark ({meta['mode']} run)",
        "",
        f"- when: {meta['when']}, commit {meta['commit']}",
        f"- machine: {info['nproc']} cores, {info['cpu_model']}, Linux {info['kernel']}",
        f"- Python {info['python']}, aiohttp {info['aiohttp']}",
        f"- command: `{meta['command']}`",
        "",
        "| " + " | ".join(title for title, _ in COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    if results:
        out += ["| " + " | ".join(row) + " |" for row in table_rows(results)]
    else:
        out = out[:-2]
    if meta.get("scrape") is not None:
        out += scrape_markdown(ScrapeReport.from_dict(meta["scrape"]))
    extra = extra_lines(meta)
    if extra:
        out.append("")
        out += [f"- {line}" for line in extra]
    if meta["floors"]:
        out.append("")
        out += [f"- {floor_line(Floor(**floor))}" for floor in meta["floors"]]
    if meta["targets"]:
        out += ["", "| target | wanted | measured | met |", "|---|---|---|---|"]
        out += [
            f"| {v['scenario']} | {v['target']} | {v['measured']} | {'yes' if v['met'] else 'NO'} |"
            for v in meta["targets"]
        ]
    return "\n".join(out) + "\n"


def write(
    name: str,
    results: list[CaseResult],
    scenarios: dict[Kind, Scenario],
    mode: str,
    command: str,
    floors: list[Floor] | None = None,
    storm: StormResult | None = None,
    history_memory: HistoryMemory | None = None,
    scrape: ScrapeReport | None = None,
    publish: PublishFigures | None = None,
) -> tuple[Path, Path, dict[str, Any]]:
    history_case = scenarios.get("history")
    meta: dict[str, Any] = {
        "mode": mode,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "command": command,
        "machine": machine(),
        "targets": verdicts(results, storm) + (scrape_verdicts(scrape) if scrape else []),
        "floors": [dataclasses.asdict(floor) for floor in floors or []],
        "storm": dataclasses.asdict(storm) if storm is not None else None,
        "history_memory": (
            dataclasses.asdict(history_memory) if history_memory is not None else None
        ),
        "history_subscribers": history_case.clients if history_case is not None else None,
        "scrape": dataclasses.asdict(scrape) if scrape is not None else None,
        "cluster_results": [dataclasses.asdict(r) for r in results if r.scenario == "cluster"],
        "publish": dataclasses.asdict(publish) if publish is not None else None,
    }
    payload = {
        **meta,
        "scenarios": {k: dataclasses.asdict(s) for k, s in scenarios.items()},
        "results": [dataclasses.asdict(r) for r in results],
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path = RESULTS_DIR / f"{name}.json"
    md_path = RESULTS_DIR / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2) + "\n")
    md_path.write_text(markdown(results, meta))
    return json_path, md_path, meta
