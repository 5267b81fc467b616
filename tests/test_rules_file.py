"""`livewatch rules`: the Prometheus rule file is written from the settings livewatch
serves with, and the committed grafana/rules/livewatch-alerts.yml is its output for the
defaults."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.monitor.prometheus_rules import HOST_RULES, rule_file
from app.settings import Settings
from tests import promql
from tests.test_cli import ROOT, run_cli
from tests.test_prometheus import need
from tests.test_readme import section_text, table_rows


def alerts_of(text: str) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(text)
    return {rule["alert"]: rule for group in data["groups"] for rule in group["rules"]}


def test_the_committed_rule_file_is_the_output_for_the_default_settings() -> None:
    assert promql.RULES.read_text() == rule_file(Settings()), (
        "grafana/rules/livewatch-alerts.yml differs from `livewatch rules` with default "
        "settings: regenerate it with `.venv/bin/livewatch rules --out "
        "grafana/rules/livewatch-alerts.yml` (after unsetting LIVEWATCH_* variables)"
    )


def test_thresholds_and_hysteresis_come_from_the_settings() -> None:
    settings = Settings(
        cpu_warning=60, cpu_critical=70, disk_warning=85.5, disk_critical=97, alert_hysteresis=3
    )
    alerts = alerts_of(rule_file(settings))
    high = " ".join(alerts["LivewatchCPUHigh"]["expr"].split())
    assert high == (
        "livewatch_cpu_usage_ratio > 0.6 or (livewatch_cpu_usage_ratio >= 0.57 and "
        "ignoring(alertname, alertstate, severity) "
        'ALERTS{alertname="LivewatchCPUHigh", alertstate="firing"})'
    )
    assert "> 0.7\n" in alerts["LivewatchCPUCritical"]["expr"]
    assert ">= 0.67\n" in alerts["LivewatchCPUCritical"]["expr"]
    disk = alerts["LivewatchDiskHigh"]
    assert "livewatch_filesystem_used_ratio > 0.855\n" in disk["expr"]
    assert "livewatch_filesystem_used_ratio >= 0.825\n" in disk["expr"]
    assert disk["expr"].endswith("and livewatch_filesystem_readonly == 0")
    assert "more than 85.5% used for 15 minutes" in disk["annotations"]["description"]
    assert "above 60% for 10 minutes" in alerts["LivewatchCPUHigh"]["annotations"]["description"]
    # Everything else is the same as with the defaults.
    defaults = alerts_of(rule_file(Settings()))
    assert set(alerts) == set(defaults)
    host = {name for rule in HOST_RULES for name in rule.alerts.values()}
    for name in set(alerts) - host:
        assert alerts[name] == defaults[name], name


def test_every_threshold_rule_of_livewatch_has_its_prometheus_pair() -> None:
    assert [rule.name for rule in HOST_RULES] == ["cpu", "memory", "disk"]
    for rule in HOST_RULES:
        assert set(rule.alerts) == set(rule.holds) == {"warning", "critical"}


@pytest.mark.prometheus
def test_promtool_accepts_the_rules_for_other_settings(tmp_path: Path) -> None:
    promtool = need("promtool")
    path = tmp_path / "rules.yml"
    path.write_text(rule_file(Settings(memory_warning=50, memory_critical=60, alert_hysteresis=10)))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


async def test_the_command_writes_the_file_from_flags_and_environment(tmp_path: Path) -> None:
    out = tmp_path / "rules.yml"
    proc = await run_cli(
        "rules", "--out", str(out), "--cpu-critical", "95", env={"LIVEWATCH_CPU_WARNING": "70"}
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert (proc.returncode, stdout, stderr) == (0, b"", b"")
    assert out.read_text() == rule_file(Settings(cpu_warning=70, cpu_critical=95))

    proc = await run_cli("rules", env={"LIVEWATCH_ALERT_HYSTERESIS": "1"})
    stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert stdout.decode() == rule_file(Settings(alert_hysteresis=1))


async def test_the_command_refuses_bad_settings_and_unwritable_files(tmp_path: Path) -> None:
    proc = await run_cli("rules", "--cpu-warning", "95", "--cpu-critical", "90")
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2
    assert "need 0 < warning < critical <= 100" in stderr.decode()

    proc = await run_cli("rules", "--out", str(tmp_path / "missing" / "rules.yml"))
    _, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert "cannot write" in stderr.decode()


def test_the_readme_table_of_alerts_is_the_rule_file() -> None:
    """Each row names alerts with their severities and levels; together they are the file."""
    alerts = alerts_of(promql.RULES.read_text())
    section = section_text((ROOT / "README.md").read_text(), "Prometheus and Grafana")
    listed: dict[str, str] = {}
    for names, severities, fires_when in table_rows(section, "| alert | severity |"):
        pairs = zip(names.split(" / "), severities.split(" / "), strict=True)
        for name, severity in pairs:
            listed[name.strip()] = severity.strip()
            rule = alerts[name.strip()]
            assert rule["labels"]["severity"] == severity.strip(), name
            ratio = re.search(r"\s>\s([0-9.]+)\n", rule["expr"])
            shown = f"> {ratio.group(1)} for {rule['for']}" if ratio else f"for {rule['for']}"
            assert shown in fires_when, f"{name}: the table should say {shown!r}"
    assert listed == {name: rule["labels"]["severity"] for name, rule in alerts.items()}
