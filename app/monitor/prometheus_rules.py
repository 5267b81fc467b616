"""The Prometheus alerting rules for livewatch, written from the settings the service uses.

The host rules are livewatch's own threshold rules as ratios: the same warning and critical
levels, and the same hysteresis. Once firing, an alert keeps firing until the ratio falls
the hysteresis margin below its level, as the built-in rules do; in PromQL the rule's own
ALERTS series holds it there. The `for` durations are Prometheus's alone (the built-in
rules act on each sample) and are fixed here. grafana/rules/livewatch-alerts.yml is the
output for the default settings, and a test keeps it so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from app.monitor.alerts import CRITICAL, WARNING
from app.settings import THRESHOLD_RULES, Settings, env_name


@dataclass(frozen=True)
class HostRule:
    """One threshold rule of livewatch's (THRESHOLD_RULES) as a pair of Prometheus alerts."""

    name: str  # cpu, memory, disk
    metric: str
    alerts: dict[str, str]  # level -> alert name
    holds: dict[str, str]  # level -> `for`
    summaries: dict[str, str]
    description: str  # with {threshold} and {hold}
    only_if: str = ""  # a further condition, joined with `and`
    comment: str = ""


HOST_RULES = (
    HostRule(
        "cpu",
        "livewatch_cpu_usage_ratio",
        {WARNING: "LivewatchCPUHigh", CRITICAL: "LivewatchCPUCritical"},
        {WARNING: "10m", CRITICAL: "5m"},
        {
            WARNING: "CPU busy on {{ $labels.instance }}",
            CRITICAL: "CPU saturated on {{ $labels.instance }}",
        },
        "CPU utilisation has been above {threshold} for {hold} "
        "(now {{{{ $value | humanizePercentage }}}}).",
    ),
    HostRule(
        "memory",
        "livewatch_memory_used_ratio",
        {WARNING: "LivewatchMemoryHigh", CRITICAL: "LivewatchMemoryCritical"},
        {WARNING: "10m", CRITICAL: "5m"},
        {
            WARNING: "Memory filling up on {{ $labels.instance }}",
            CRITICAL: "Memory nearly exhausted on {{ $labels.instance }}",
        },
        "Memory in use has been above {threshold} for {hold} "
        "(now {{{{ $value | humanizePercentage }}}}).",
    ),
    HostRule(
        "disk",
        "livewatch_filesystem_used_ratio",
        {WARNING: "LivewatchDiskHigh", CRITICAL: "LivewatchDiskCritical"},
        {WARNING: "15m", CRITICAL: "5m"},
        {
            WARNING: "Filesystem {{ $labels.mountpoint }} filling up on {{ $labels.instance }}",
            CRITICAL: "Filesystem {{ $labels.mountpoint }} nearly full on {{ $labels.instance }}",
        },
        "{{{{ $labels.mountpoint }}}} ({{{{ $labels.device }}}}) has been more than "
        "{threshold} used for {hold} (now {{{{ $value | humanizePercentage }}}}).",
        only_if="livewatch_filesystem_readonly == 0",
        comment="Read-only filesystems (images, snaps) are always full by design: leave them out.",
    ),
)


@dataclass(frozen=True)
class Rule:
    alert: str
    expr: str
    hold: str
    severity: str
    summary: str
    description: str
    comment: str = ""


@dataclass(frozen=True)
class Group:
    name: str
    rules: list[Rule] = field(default_factory=list)


SERVICE_RULES = Group(
    "livewatch-service",
    [
        Rule(
            "LivewatchDown",
            'up{job="livewatch"} == 0',
            "2m",
            CRITICAL,
            "livewatch on {{ $labels.instance }} cannot be scraped",
            "Prometheus has failed to scrape {{ $labels.instance }} for 2 minutes.",
        ),
        Rule(
            "LivewatchTargetMissing",
            'absent(up{job="livewatch"})',
            "10m",
            CRITICAL,
            "No livewatch target",
            'Prometheus has had no target in job "livewatch" for 10 minutes: check the '
            "scrape configuration and service discovery.",
        ),
        Rule(
            "LivewatchCollectorStalled",
            "timestamp(livewatch_collector_last_success_timestamp_seconds)\n"
            "  - livewatch_collector_last_success_timestamp_seconds\n"
            "> 3 * livewatch_collector_interval_seconds",
            "2m",
            CRITICAL,
            "Host collector stalled on {{ $labels.instance }}",
            "No host sample has completed for {{ $value | humanizeDuration }}, more than three "
            "collector intervals: CPU, memory and disk figures and the built-in alerts are "
            "stale.",
            comment="The gap is measured at scrape time (timestamp() of the sample), so it does "
            "not grow\nwith the scrape interval: it only passes three collector intervals when "
            "three\nsamples in a row were missed.",
        ),
        Rule(
            "LivewatchCollectorFailing",
            "increase(livewatch_collector_failures_total[5m]) > 0",
            "10m",
            WARNING,
            "Host collector failing on {{ $labels.instance }}",
            "The host collector has kept failing for 10 minutes ({{ $value | humanize }} "
            "failures in the last 5 minutes); the livewatch log says why.",
        ),
        Rule(
            "LivewatchSlowDisconnects",
            "increase(livewatch_ws_slow_disconnects_total[5m]) > 5",
            "10m",
            WARNING,
            "WebSocket clients too slow on {{ $labels.instance }}",
            "More than 5 WebSocket clients per 5 minutes have been cut off with 1013 because "
            "they stopped reading ({{ $value | humanize }} in the last 5 minutes), for 10 "
            "minutes.",
        ),
        Rule(
            "LivewatchEventLoopLag",
            "histogram_quantile(0.99,\n"
            "  sum by (job, instance, le) (rate(livewatch_event_loop_lag_seconds_bucket[5m])))\n"
            "> 0.1",
            "10m",
            WARNING,
            "Event loop lagging on {{ $labels.instance }}",
            "The 99th percentile of event-loop lag has been above 100ms for 10 minutes (now "
            "{{ $value | humanizeDuration }}): something blocks the loop, and fan-out waits "
            "for it.",
        ),
        Rule(
            "LivewatchHealthCheckUnhealthy",
            'livewatch_health_check_status{status="unhealthy"} == 1',
            "2m",
            CRITICAL,
            "Health check {{ $labels.check }} unhealthy on {{ $labels.instance }}",
            "The {{ $labels.check }} health check has reported unhealthy for 2 minutes; "
            "/api/monitoring/health has the message.",
        ),
    ],
)


def ratio(percent: float) -> str:
    return f"{round(percent / 100, 6):g}"


def duration_words(hold: str) -> str:
    found = re.fullmatch(r"(\d+)([mh])", hold)
    if found is None:
        raise ValueError(f"not a duration in minutes or hours: {hold!r}")
    count, unit = int(found[1]), {"m": "minute", "h": "hour"}[found[2]]
    return f"{count} {unit}{'' if count == 1 else 's'}"


def host_expr(rule: HostRule, level: str, threshold: float, hysteresis: float) -> str:
    """Above the level fires; once firing, at or above the level minus the margin holds."""
    alert = rule.alerts[level]
    held = (
        f"{rule.metric} > {ratio(threshold)}\n"
        f"  or ({rule.metric} >= {ratio(threshold - hysteresis)}\n"
        f"    and ignoring(alertname, alertstate, severity)\n"
        f'    ALERTS{{alertname="{alert}", alertstate="firing"}})'
    )
    if not rule.only_if:
        return held
    return "(" + held.replace("\n", "\n ") + ")\nand " + rule.only_if


def host_group(settings: Settings) -> Group:
    rules = []
    for host in HOST_RULES:
        limits = settings.threshold(host.name)
        for level, threshold in ((WARNING, limits.warning), (CRITICAL, limits.critical)):
            hold = host.holds[level]
            rules.append(
                Rule(
                    host.alerts[level],
                    host_expr(host, level, threshold, settings.alert_hysteresis),
                    hold,
                    level,
                    host.summaries[level],
                    host.description.format(threshold=f"{threshold:g}%", hold=duration_words(hold)),
                    comment=host.comment if level == WARNING else "",
                )
            )
    return Group("livewatch-host", rules)


def header(settings: Settings) -> str:
    levels = "".join(
        f"  {env_name(name + '_warning')}={settings.threshold(name).warning:g}, "
        f"{env_name(name + '_critical')}={settings.threshold(name).critical:g},\n"
        for name in THRESHOLD_RULES
    )
    return f"""\
Prometheus alerting rules for livewatch, written by `livewatch rules` from the settings
livewatch serves with. Do not edit: run `livewatch rules --out FILE` with your own
LIVEWATCH_* settings (or the same flags as `livewatch serve`) instead.

The host rules are livewatch's own threshold rules, written as ratios, from
{levels}  {env_name("alert_hysteresis")}={settings.alert_hysteresis:g}.
As livewatch's own do, an alert keeps firing until the ratio falls the hysteresis margin
below its level (its own ALERTS series holds it). Each warning also fires alongside its
critical; route them through an Alertmanager inhibit rule if you want only the worse one.

The rules assume the scrape job is called "livewatch" where they need a job name
(LivewatchDown, LivewatchTargetMissing). Checked by `promtool check rules` and unit-tested
by livewatch-alerts.test.yml (`promtool test rules`)."""


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


PLAIN = re.compile(r"[A-Za-z(][^#\n]*")


def scalar(text: str, indent: str) -> str:
    if "\n" in text:
        body = "".join(f"\n{indent}  {line}" if line else "\n" for line in text.split("\n"))
        return "|-" + body
    if PLAIN.fullmatch(text) and ": " not in text and not text.endswith(":"):
        return text
    return quoted(text)


def comment_lines(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}".rstrip() for line in text.split("\n")]


def render(groups: list[Group], head: str) -> str:
    lines = comment_lines(head, "")
    lines.append("groups:")
    for group in groups:
        lines += [f"  - name: {group.name}", "    rules:"]
        for index, rule in enumerate(group.rules):
            if index:
                lines.append("")
            if rule.comment:
                lines += comment_lines(rule.comment, "      ")
            lines += [
                f"      - alert: {rule.alert}",
                f"        expr: {scalar(rule.expr, '        ')}",
                f"        for: {rule.hold}",
                "        labels:",
                f"          severity: {rule.severity}",
                "        annotations:",
                f"          summary: {quoted(rule.summary)}",
                f"          description: {quoted(rule.description)}",
            ]
        if group is not groups[-1]:
            lines.append("")
    return "\n".join(lines) + "\n"


def rule_file(settings: Settings) -> str:
    """The whole rule file for these settings."""
    return render([host_group(settings), SERVICE_RULES], header(settings))
