"""promtool and a real Prometheus against livewatch and the files in grafana/.

Each test skips, with the reason, where the Debian package `prometheus` (prometheus and
promtool) is missing, and fails instead under CI=true, whose .ci/run installs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp.test_utils import TestServer

from app.server import create_app
from app.settings import Settings
from app.web import keys
from tests import promql
from tests.conftest import LivewatchClient, connect, free_port, publish

pytestmark = pytest.mark.prometheus

SCRAPE_INTERVAL = "1s"
SCRAPES_BEFORE_QUERYING = 6
PROMETHEUS_START_TIMEOUT = 30.0


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed (Debian package prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI=true requires it")
        pytest.skip(reason)
    return path


async def run_tool(*args: str, stdin: bytes = b"") -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_promtool_check_metrics_is_quiet_on_a_live_scrape(client: LivewatchClient) -> None:
    promtool = need("promtool")
    # Fill every family first: a host sample (filesystems), a delivery, an event.
    await client.app[keys.COLLECTOR].collect()
    ws = await connect(client, "?user_id=u1")
    await publish(client, event="task.started", data={}, user_id="u1")
    scrape = await (await client.get("/metrics")).read()
    assert b"livewatch_filesystem_used_ratio{" in scrape
    assert b'livewatch_cpu_seconds_total{cpu="0",mode="user"}' in scrape
    assert b"livewatch_network_receive_errs_total{" in scrape
    assert b"livewatch_memory_mem_total_bytes " in scrape
    code, output = await run_tool(promtool, "check", "metrics", stdin=scrape)
    assert (code, output) == (0, ""), output
    await ws.close()


def test_promtool_check_rules_passes() -> None:
    promtool = need("promtool")
    result = subprocess.run(
        [promtool, "check", "rules", str(promql.RULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_promtool_rule_unit_tests_pass() -> None:
    promtool = need("promtool")
    result = subprocess.run(
        [promtool, "test", "rules", promql.RULE_TESTS.name],
        cwd=promql.RULE_TESTS.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@contextlib.asynccontextmanager
async def running_prometheus(workdir: Path, target: str) -> AsyncIterator[str]:
    """A Prometheus on a free loopback port scraping `target` every second as
    job="livewatch", with the shipped alert rules loaded; yields its base URL."""
    prometheus = need("prometheus")
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(promql.RULES)],
        "scrape_configs": [
            {"job_name": "livewatch", "static_configs": [{"targets": [target]}]},
        ],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    log_path = workdir / "prometheus.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            prometheus,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={address}",
            stdout=log,
            stderr=log,
        )
    url = f"http://{address}"
    try:
        await wait_ready(url, process, log_path)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


async def wait_ready(url: str, process: asyncio.subprocess.Process, log_path: Path) -> None:
    deadline = asyncio.get_running_loop().time() + PROMETHEUS_START_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while True:
            assert process.returncode is None, "prometheus exited:\n" + read_log(log_path)
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/-/ready") as response:
                    if response.status == 200:
                        return
            now = asyncio.get_running_loop().time()
            assert now < deadline, "prometheus never got ready:\n" + read_log(log_path)
            await asyncio.sleep(0.2)


async def query(session: aiohttp.ClientSession, url: str, expr: str) -> list[dict[str, Any]]:
    async with session.get(f"{url}/api/v1/query", params={"query": expr}) as response:
        body = await response.json()
    assert body.get("status") == "success", f"{expr}\n-> {body.get('error', body)}"
    data = body["data"]
    if data["resultType"] == "scalar":
        return [{"metric": {}, "value": data["result"]}]
    result = data["result"]
    assert isinstance(result, list)
    return result


def finite(series: list[dict[str, Any]]) -> bool:
    return any(math.isfinite(float(item["value"][1])) for item in series)


async def test_every_dashboard_and_rule_query_returns_series_from_a_real_prometheus(
    tmp_path: Path,
) -> None:
    need("prometheus")
    settings = Settings(
        database_path=tmp_path / "livewatch.sqlite3",
        collector_interval=0.5,
        health_interval=1.0,
        health_timeout=1.0,
        node="prometheus-test",
    )
    server = TestServer(create_app(settings), host="127.0.0.1")
    await server.start_server()
    try:
        await check_queries_against(server, tmp_path)
    finally:
        await server.close()


async def check_queries_against(server: TestServer, workdir: Path) -> None:
    target = f"127.0.0.1:{server.port}"
    dashboard = promql.load_dashboard()
    rules = promql.load_rules()
    async with (
        aiohttp.ClientSession() as session,
        running_prometheus(workdir, target) as url,
    ):
        # Traffic for the hub panels: a subscriber to the system channel gets every sample,
        # so broadcasts and deliveries happen twice a second, and one application event.
        ws = await session.ws_connect(server.make_url("/api/monitoring/ws?user_id=u1"))
        await ws.receive_json()
        await ws.send_json({"type": "subscribe", "channel": "system"})
        event = {"event": "task.started", "data": {}, "user_id": "u1"}
        async with session.post(server.make_url("/api/events"), json=event) as published:
            assert published.status == 202

        scrapes = f'count_over_time(up{{job="livewatch",instance="{target}"}}[1m])'

        async def scraped_enough() -> bool:
            series = await query(session, url, scrapes)
            return bool(series) and float(series[0]["value"][1]) >= SCRAPES_BEFORE_QUERYING

        await wait_until(scraped_enough, within=30)
        up = await query(session, url, f'up{{job="livewatch",instance="{target}"}}')
        assert [item["value"][1] for item in up] == ["1"], "livewatch is scraped"

        values = {
            "job": "livewatch",
            "instance": target,
            "__rate_interval": promql.RATE_INTERVAL_FOR_1S_SCRAPES,
        }
        failures = []
        for variable in promql.variable_queries(dashboard):
            selector = promql.substitute(variable.selector, values)
            series = await query(session, url, selector)
            found = {item["metric"].get(variable.label) for item in series}
            if values[variable.name] not in found:
                failures.append(f"variable {variable.name}: {selector} gave {found}")
        for expression in promql.dashboard_expressions(dashboard):
            expr = promql.substitute(expression.expr, values)
            assert "$" not in expr, f"{expression.where}: unsubstituted variable in {expr}"
            series = await query(session, url, expr)
            if not finite(series):
                failures.append(f"{expression.where}: {expr} gave {series}")
        for expression in promql.rule_expressions(rules):
            expr = promql.queryable(expression.expr)
            series = await query(session, url, expr)
            if not series:
                failures.append(f"{expression.where}: {expr} gave no series")
        assert failures == [], "\n".join(failures)

        # Prometheus loaded the rule file too: every rule evaluates without error.
        async with session.get(f"{url}/api/v1/rules") as response:
            groups = (await response.json())["data"]["groups"]
        loaded = {rule["name"]: rule for group in groups for rule in group["rules"]}
        assert set(loaded) == {
            expression.where.removeprefix("alert ") for expression in promql.rule_expressions(rules)
        }
        for name, rule in loaded.items():
            assert rule["health"] == "ok", f"{name}: {rule.get('lastError')}"
        await ws.close()


async def wait_until(condition: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.5)
