"""python -m bench: run the fan-out scenarios against livewatch and the naive reference, and
the scrape and collector costs against node_exporter."""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import cluster, history, report, scrape, storm
from bench.cluster import PublishFigures, run_cluster, run_publish
from bench.floor import Floor, measure_floor
from bench.history import HistoryMemory, measure_history_memory
from bench.receiver import raise_nofile
from bench.scenarios import (
    KINDS,
    LIVEWATCH_ONLY,
    CaseResult,
    Kind,
    Scenario,
    run_case,
    run_history,
    scenarios,
)
from bench.servers import SERVER_KINDS, RedisServer, ServerKind
from bench.storm import StormResult, run_storm

OTHER_LOAD_WARNING = 0.25  # cores used by processes outside the run
SCRAPE = "scrape"
CHOICES = (*KINDS, SCRAPE)
NAIVE_NO_BROKER = "livewatch only: the naive server is one process with nothing to share"


def _choice(allowed: Sequence[str]) -> type[list[str]] | object:
    def parse(raw: str) -> list[str]:
        chosen = [part.strip() for part in raw.split(",") if part.strip()]
        unknown = [part for part in chosen if part not in allowed]
        if unknown or not chosen:
            raise argparse.ArgumentTypeError(f"choose from {', '.join(allowed)}")
        return chosen

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Fan-out benchmark on loopback: livewatch against a naive aiohttp server.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small numbers; the whole run takes about a minute"
    )
    parser.add_argument(
        "--scenarios",
        type=_choice(CHOICES),  # type: ignore[arg-type]
        default=list(CHOICES),
        help=f"comma-separated subset of {','.join(CHOICES)} (default: all); scrape is "
        "livewatch's /metrics against node_exporter's, and the collector's overhead",
    )
    parser.add_argument(
        "--servers",
        type=_choice(SERVER_KINDS),  # type: ignore[arg-type]
        default=list(SERVER_KINDS),
        help="comma-separated subset of livewatch,naive (default: both)",
    )
    parser.add_argument(
        "--receivers",
        type=int,
        default=None,
        help="receiver processes per case (default: 1, or 2 for the large scenarios)",
    )
    parser.add_argument(
        "--client-nice",
        type=int,
        default=None,
        help="niceness added to the receiver processes (default: 0)",
    )
    parser.add_argument(
        "--storm-spread",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="storm: each client reconnects after a random delay of up to this many seconds "
        "(default: 0, all at once)",
    )
    parser.add_argument(
        "--redis",
        default=None,
        metavar="URL",
        help="cluster, publish: use this Redis, under a key prefix of the run's own that is "
        "deleted afterwards (default: start a redis-server of the run's own on a free port)",
    )
    parser.add_argument(
        "--logs",
        type=Path,
        default=None,
        help="keep the servers' logs and databases in this directory (default: a temp dir)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="results name under bench/results/ (default: latest for a complete full run, "
        "quick for --quick, partial otherwise)",
    )
    return parser


Ran = tuple[list[CaseResult], StormResult | None, HistoryMemory | None, PublishFigures | None]


def run_kinds(
    kinds: list[Kind],
    servers: list[ServerKind],
    chosen: dict[Kind, Scenario],
    workdir: Path,
    redis: RedisServer | None,
    began: float,
    quick: bool,
) -> Ran:
    """Every chosen scenario against every chosen server, in order."""
    results: list[CaseResult] = []
    storm_result: StormResult | None = None
    history_memory: HistoryMemory | None = None
    publish: PublishFigures | None = None
    for kind in kinds:
        scenario = chosen[kind]
        if kind in LIVEWATCH_ONLY:
            if "naive" in servers:
                skipped = storm.NAIVE_SKIPPED if kind in ("storm", "history") else NAIVE_NO_BROKER
                print(f"[{time.monotonic() - began:6.1f}s] {kind}: {skipped}")
            if "livewatch" not in servers:
                continue
            print(
                f"[{time.monotonic() - began:6.1f}s] {kind}: livewatch, "
                f"{scenario.clients} clients ...",
                flush=True,
            )
            if kind == "storm":
                storm_result = run_storm(scenario, workdir)
            elif kind == "cluster":
                assert redis is not None
                results += run_cluster(scenario, workdir, redis)
            elif kind == "publish":
                assert redis is not None
                publish = run_publish(scenario, workdir, redis)
            else:
                results += run_history(scenario, workdir)
                print(f"[{time.monotonic() - began:6.1f}s] history: memory ...", flush=True)
                history_memory = measure_history_memory(channels=20 if quick else 100)
            continue
        for server in servers:
            print(
                f"[{time.monotonic() - began:6.1f}s] {kind}: {server}, "
                f"{scenario.clients} clients ...",
                flush=True,
            )
            results.append(run_case(scenario, server, workdir))
    return results, storm_result, history_memory, publish


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    chosen = scenarios(args.quick, args.receivers, args.client_nice, args.storm_spread)
    kinds: list[Kind] = [k for k in KINDS if k in args.scenarios]
    servers: list[ServerKind] = [s for s in SERVER_KINDS if s in args.servers]
    with_scrape = SCRAPE in args.scenarios
    complete = with_scrape and len(kinds) == len(KINDS) and len(servers) == len(SERVER_KINDS)
    name = args.out or (("quick" if args.quick else "latest") if complete else "partial")
    mode = "quick" if args.quick else "full"
    raise_nofile(2 * max((chosen[k].clients for k in kinds), default=0) + 256)

    redis: RedisServer | None = None
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="livewatch-bench-") as tmp:
        workdir = args.logs or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        if "livewatch" in servers and {"cluster", "publish"} & set(kinds):
            redis = RedisServer(workdir, args.redis)
            redis.start()
        try:
            results, storm_result, history_memory, publish = run_kinds(
                kinds, servers, chosen, workdir, redis, began, args.quick
            )
        finally:
            if redis is not None:
                redis.stop()
        scraped: scrape.ScrapeReport | None = None
        if with_scrape:
            print(
                f"[{time.monotonic() - began:6.1f}s] scrape: livewatch and node_exporter, "
                "then the collector every 1 s ...",
                flush=True,
            )
            scraped = scrape.run(workdir, args.quick)
    floors: list[Floor] = []
    for kind in kinds:
        if kind in ("latency", "scale"):
            clients = chosen[kind].clients
            print(f"[{time.monotonic() - began:6.1f}s] floor: plain sends to {clients} sockets ...")
            floors.append(measure_floor(clients, rounds=40 if clients <= 2000 else 10))
    print()
    if results:
        print(report.console_table(results))
    for floor in floors:
        print(report.floor_line(floor))
    if scraped is not None:
        print()
        print(report.scrape_console(scraped))
    if storm_result is not None:
        print("\n".join(storm.summary(storm_result)))
    if history_memory is not None:
        print("\n".join(history.summary(history_memory, chosen["history"].clients)))
    print("\n".join(cluster.cluster_lines(results)))
    if publish is not None:
        print("\n".join(cluster.publish_lines(publish)))
    busy = [
        (f"{r.scenario}/{r.server}" + (f" ({r.variant})" if r.variant else ""), r.other_load)
        for r in results
        if r.other_load > OTHER_LOAD_WARNING
    ]
    if storm_result is not None and storm_result.other_load > OTHER_LOAD_WARNING:
        busy.append(("storm/livewatch", storm_result.other_load))
    if scraped is not None:
        busy += [
            (f"scrape/{r.server}", r.other_load)
            for r in scraped.results
            if r.other_load > OTHER_LOAD_WARNING
        ]
        if scraped.collector is not None and scraped.collector.other_load > OTHER_LOAD_WARNING:
            busy.append(("collector", scraped.collector.other_load))
    for pub in publish.cases if publish is not None else []:
        if pub.other_load > OTHER_LOAD_WARNING:
            busy.append(
                (f"publish/{pub.nodes} nodes, {pub.subscribers} subscribers", pub.other_load)
            )
    for case, load in busy:
        print(
            f"WARNING: other processes used {load:.2f} cores during {case}; "
            "its figures say more about the machine than about the server"
        )
    command = shlex.join(["python", "-m", "bench", *(argv if argv is not None else sys.argv[1:])])
    json_path, md_path, meta = report.write(
        name,
        results,
        {k: chosen[k] for k in kinds},
        mode,
        command,
        floors,
        storm=storm_result,
        history_memory=history_memory,
        scrape=scraped,
        publish=publish,
    )
    print()
    for verdict in meta["targets"]:
        mark = "met" if verdict["met"] else "NOT MET"
        print(f"{verdict['scenario']:>8}: {verdict['target']}: {verdict['measured']} -> {mark}")
    info = meta["machine"]
    print(
        f"\nmachine: {info['nproc']} cores, {info['cpu_model']}, Python {info['python']}, "
        f"aiohttp {info['aiohttp']}; {time.monotonic() - began:.0f} s in all"
    )
    print(f"wrote {json_path} and {md_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
