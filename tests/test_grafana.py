"""grafana/: the dashboard, the provisioning files and the alert rules, checked statically,
and every metric they name checked against a live scrape of livewatch."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from app.settings import Settings
from app.web import keys
from tests import promql
from tests.conftest import LivewatchClient, connect, publish, subscribe

# Series Prometheus makes itself: `up` for each scrape, ALERTS for each alerting rule (the
# host rules read their own to hold while firing). No exporter serves them.
PROMETHEUS_OWN_SERIES = frozenset({"up", "ALERTS"})


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return promql.load_dashboard()


@pytest.fixture(scope="module")
def rules() -> dict[str, Any]:
    return promql.load_rules()


def visual_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in promql.panels(dashboard) if panel["type"] != "row"]


def alerts(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        rule["alert"]: rule
        for group in rules["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }


def test_dashboard_has_datasource_job_and_instance_variables(dashboard: dict[str, Any]) -> None:
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert {"datasource", "job", "instance"} <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    queries = {query.name: query for query in promql.variable_queries(dashboard)}
    assert queries["job"].label == "job"
    assert queries["instance"].label == "instance"
    assert "$job" in queries["instance"].selector, "instances are those of the chosen job"


def test_every_panel_has_a_title_a_description_and_a_unit(dashboard: dict[str, Any]) -> None:
    for panel in promql.panels(dashboard):
        assert panel.get("title", "").strip(), f"panel {panel['id']} has no title"
    for panel in visual_panels(dashboard):
        assert panel.get("description", "").strip(), f"{panel['title']!r} has no description"
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit, f"{panel['title']!r} has no unit"
        assert panel.get("targets"), f"{panel['title']!r} has no query"


def test_every_panel_and_query_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    chosen = {"type": "prometheus", "uid": "${datasource}"}
    for panel in visual_panels(dashboard):
        assert panel["datasource"] == chosen, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == chosen, f"{panel['title']!r} {target['refId']}"
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"] == chosen, variable["name"]


def test_every_query_filters_on_job_and_instance(dashboard: dict[str, Any]) -> None:
    for expression in promql.dashboard_expressions(dashboard):
        for selector in re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*\{[^}]*\}", expression.expr):
            assert 'job=~"$job"' in selector, f"{expression.where}: {selector}"
            assert 'instance=~"$instance"' in selector, f"{expression.where}: {selector}"


def test_every_range_in_the_dashboard_is_the_rate_interval(dashboard: dict[str, Any]) -> None:
    for expression in promql.dashboard_expressions(dashboard):
        for window in re.findall(r"\[([^\]]*)\]", expression.expr):
            assert window == "$__rate_interval", f"{expression.where}: [{window}]"


def test_counters_appear_only_inside_rate_or_increase(
    dashboard: dict[str, Any], rules: dict[str, Any]
) -> None:
    expressions = promql.dashboard_expressions(dashboard) + promql.rule_expressions(rules)
    assert any("_total" in expression.expr for expression in expressions)
    for expression in expressions:
        assert promql.counters_outside_rate(expression.expr) == [], expression.where


def test_counter_check_catches_a_bare_counter() -> None:
    assert promql.counters_outside_rate("sum(livewatch_ws_deliveries_total)") == [
        "livewatch_ws_deliveries_total"
    ]
    assert promql.counters_outside_rate("sum(rate(x_total[5m])) / y_total") == ["y_total"]
    assert promql.counters_outside_rate('increase(x_total{a="b_total"}[1m])') == []


def test_panels_have_unique_ids_and_fit_the_grid(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in promql.panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in promql.panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
    assert dashboard["uid"] == "livewatch-overview"


def test_provisioning_points_grafana_at_prometheus_and_the_dashboard() -> None:
    datasources = yaml.safe_load(
        (promql.GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    assert datasources["apiVersion"] == 1
    assert [source["type"] for source in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load(
        (promql.GRAFANA / "provisioning" / "dashboards" / "livewatch.yaml").read_text()
    )
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"]


def test_alerts_have_severity_for_and_annotations(rules: dict[str, Any]) -> None:
    for name, rule in alerts(rules).items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule.get("for"), f"{name} has no `for`: one bad sample would page"
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name


def test_host_alerts_mirror_the_built_in_thresholds(rules: dict[str, Any]) -> None:
    defaults = Settings()
    expected = {
        "LivewatchCPUHigh": ("livewatch_cpu_usage_ratio", defaults.cpu_warning),
        "LivewatchCPUCritical": ("livewatch_cpu_usage_ratio", defaults.cpu_critical),
        "LivewatchMemoryHigh": ("livewatch_memory_used_ratio", defaults.memory_warning),
        "LivewatchMemoryCritical": ("livewatch_memory_used_ratio", defaults.memory_critical),
        "LivewatchDiskHigh": ("livewatch_filesystem_used_ratio", defaults.disk_warning),
        "LivewatchDiskCritical": ("livewatch_filesystem_used_ratio", defaults.disk_critical),
    }
    rules_by_name = alerts(rules)
    for name, (metric, percent) in expected.items():
        match = re.search(re.escape(metric) + r"\s*>\s*([0-9.]+)", rules_by_name[name]["expr"])
        assert match, f"{name}: expected '{metric} > ratio'"
        assert float(match.group(1)) == pytest.approx(percent / 100), name


def test_every_alert_has_a_unit_test_that_fires_and_one_that_stays_silent(
    rules: dict[str, Any],
) -> None:
    suite = yaml.safe_load(promql.RULE_TESTS.read_text())
    fired: set[str] = set()
    silent: set[str] = set()
    for test in suite["tests"]:
        for case in test.get("alert_rule_test", []):
            (fired if case["exp_alerts"] else silent).add(case["alertname"])
    assert set(alerts(rules)) == fired == silent


async def test_every_metric_the_dashboard_and_rules_name_is_exported(
    client: LivewatchClient, dashboard: dict[str, Any], rules: dict[str, Any]
) -> None:
    # Exercise everything once so that every family has samples.
    await client.app[keys.COLLECTOR].collect()
    ws = await connect(client, "?user_id=u1")
    await subscribe(ws, "system")
    await publish(client, event="task.started", data={}, user_id="u1")
    await client.app[keys.COLLECTOR].collect()
    text = await (await client.get("/metrics")).text()
    exported = {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }
    named: dict[str, set[str]] = {}
    expressions = promql.dashboard_expressions(dashboard) + promql.rule_expressions(rules)
    for expression in expressions:
        for name in promql.metric_names(expression.expr):
            named.setdefault(name, set()).add(expression.where)
    for query in promql.variable_queries(dashboard):
        for name in promql.metric_names(query.selector):
            named.setdefault(name, set()).add(f"variable {query.name}")
    assert len(named) > 30, sorted(named)
    unknown = {
        name: sorted(places)
        for name, places in named.items()
        if name not in exported and name not in PROMETHEUS_OWN_SERIES
    }
    assert unknown == {}, "named by grafana/ but not exported by livewatch"
    await ws.close()


def test_metric_name_extraction_sees_through_promql() -> None:
    expr = (
        'sum by (instance, le) (rate(livewatch_x_bucket{job=~"$job", le!="+Inf"}[$__rate_interval]'
        "))"
        ' / on (instance) group_left () livewatch_y > bool 1e3 and absent(up{job="a"})'
    )
    assert promql.metric_names(expr) == {"livewatch_x_bucket", "livewatch_y", "up"}
    assert promql.metric_names("livewatch_memroy_used_ratio > 0.8") == {
        "livewatch_memroy_used_ratio"
    }


def test_with_bool_keeps_every_series_of_an_alert() -> None:
    assert (
        promql.with_bool('a{x!="1",y=~"<>"} > 0.8 and b == 0')
        == 'a{x!="1",y=~"<>"} > bool 0.8 and b == bool 0'
    )
    assert promql.with_bool("a >= bool 1") == "a >= bool 1"
    assert promql.queryable('absent(up{job="livewatch"})') == 'up{job="livewatch"}'


def test_the_dashboard_file_is_the_generators_output() -> None:
    """grafana/dashboards/livewatch-overview.json is written by grafana/dashboard.py
    (`make dashboards`); an edit by hand, or a generator change not run, fails here."""
    from grafana import dashboard as generator

    assert promql.DASHBOARD == generator.OUTPUT
    assert promql.DASHBOARD.read_text() == generator.render(), "run `make dashboards`"
    assert generator.main(["--check"]) == 0


def test_the_dashboard_has_node_exporter_full_rows_and_a_livewatch_row(
    dashboard: dict[str, Any],
) -> None:
    rows = [panel["title"] for panel in dashboard["panels"] if panel["type"] == "row"]
    assert rows == [
        "Overview",
        "CPU",
        "Memory",
        "Disk",
        "Network",
        "livewatch: WebSocket hub",
        "Health checks and alerts",
    ]
    titles = {panel["title"] for panel in promql.panels(dashboard)}
    assert {
        "CPU busy",
        "Memory used",
        "Fullest filesystem",
        "CPU busy per core",
        "Memory breakdown",
        "Disk throughput",
        "Disk IOPS",
        "Network errors",
        "Network drops",
        "Connections",
        "Deliveries",
        "Slow disconnects",
        "Event-loop lag",
        "Broadcast duration",
    } <= titles
    kinds = {panel["type"] for panel in promql.panels(dashboard)}
    assert {"gauge", "stat", "timeseries", "bargauge", "state-timeline", "row"} == kinds
