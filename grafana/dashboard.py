"""The "livewatch overview" Grafana dashboard, as code (grafana-foundation-sdk).

    python grafana/dashboard.py           # writes grafana/dashboards/livewatch-overview.json
    python grafana/dashboard.py --check   # exits 1 when that file is not this output

`make dashboards` runs the first; tests/test_grafana.py the second. Conventions every
panel keeps (the tests check them): the data source, job and instance variables on every
query, `$__rate_interval` as every range, counters only inside rate() or increase(), a
title, a description and a unit on every panel.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import (
    bargauge,
    dashboard,
    gauge,
    prometheus,
    stat,
    statetimeline,
    timeseries,
)
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)

OUTPUT = Path(__file__).resolve().parent / "dashboards" / "livewatch-overview.json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
SELECTOR = 'job=~"$job", instance=~"$instance"'
RANGE = "[$__rate_interval]"

Query = tuple[str, str]  # (expression, legend)

IDLE = 'mode="idle"'
NOT_HEALTHY = 'status!="healthy"'
DEGRADED = 'status="degraded"'
UNHEALTHY = 'status="unhealthy"'
WARNING = 'severity="warning"'
CRITICAL = 'severity="critical"'


# --- PromQL --------------------------------------------------------------------------------


def series(metric: str, matchers: str = "") -> str:
    """`metric{job=~"$job", instance=~"$instance", ...}`."""
    return f"{metric}{{{SELECTOR}{', ' + matchers if matchers else ''}}}"


def rate(metric: str, matchers: str = "") -> str:
    return f"rate({series(metric, matchers)}{RANGE})"


def quantile(q: float, histogram: str) -> str:
    return f"histogram_quantile({q}, sum by (instance, le) ({rate(histogram + '_bucket')}))"


def cpu_busy(by: str) -> str:
    """Busy share of CPU time: 1 minus the idle share, summed by `by`."""
    idle = f"sum by ({by}) ({rate('livewatch_cpu_seconds_total', IDLE)})"
    every = f"sum by ({by}) ({rate('livewatch_cpu_seconds_total')})"
    return f"1 - {idle} / {every}"


def memory(field: str) -> str:
    """A /proc/meminfo field's series, by its snake_case name (mem_total for MemTotal)."""
    return series(f"livewatch_memory_{field}_bytes")


# --- panels ----------------------------------------------------------------------------------


class Ids:
    def __init__(self) -> None:
        self.last = 0

    def next(self) -> int:
        self.last += 1
        return self.last


IDS = Ids()


def thresholds(*steps: tuple[float | None, str]) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=value, color=color) for value, color in steps])
    )


GREEN = thresholds((None, "green"))


def states(*names: tuple[str, str]) -> list[Any]:
    """Value mappings 0, 1, 2, ... to the given (text, colour) states."""
    return [
        ValueMap(
            options={
                str(index): ValueMappingResult(text=text, color=color, index=index)
                for index, (text, color) in enumerate(names)
            }
        )
    ]


def targets(panel: Any, queries: list[Query]) -> Any:
    for index, (expr, legend) in enumerate(queries):
        panel = panel.with_target(
            prometheus.Dataquery()
            .expr(expr)
            .legend_format(legend)
            .range()
            .ref_id(chr(ord("A") + index))
            .datasource(DATASOURCE)
        )
    return panel


def base(panel: Any, title: str, description: str, unit: str, span: int, height: int) -> Any:
    return (
        panel.id(IDS.next())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .span(span)
        .height(height)
    )


def graph(
    title: str,
    description: str,
    unit: str,
    queries: list[Query],
    *,
    span: int = 8,
    minimum: float | None = 0,
    maximum: float | None = None,
    stacked: bool = False,
    limits: tuple[float, float] | None = None,
) -> timeseries.Panel:
    panel = (
        base(timeseries.Panel(), title, description, unit, span, 8)
        .line_width(1)
        .fill_opacity(10)
        .show_points(common.VisibilityMode.NEVER)
        .span_nulls(False)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
        .tooltip(
            common_builders.VizTooltipOptions()
            .mode(common.TooltipDisplayMode.MULTI)
            .sort(common.SortOrder.DESCENDING)
        )
        .stacking(
            common_builders.StackingConfig().mode(
                common.StackingMode.NORMAL if stacked else common.StackingMode.NONE
            )
        )
    )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if limits is None:
        panel = panel.thresholds(GREEN)
    else:
        warning, critical = limits
        panel = panel.thresholds(
            thresholds((None, "green"), (warning, "orange"), (critical, "red"))
        ).thresholds_style(
            common_builders.GraphThresholdsStyleConfig().mode(common.GraphTresholdsStyleMode.LINE)
        )
    result: timeseries.Panel = targets(panel, queries)
    return result


def reduce_last() -> common_builders.ReduceDataOptions:
    return common_builders.ReduceDataOptions().calcs(["lastNotNull"]).values(False).fields("")


def number(
    title: str,
    description: str,
    unit: str,
    query: Query,
    *,
    mappings: list[Any] | None = None,
    span: int = 4,
) -> stat.Panel:
    panel = (
        base(stat.Panel(), title, description, unit, span, 4)
        .reduce_options(reduce_last())
        .color_mode(common.BigValueColorMode.VALUE)
        .graph_mode(common.BigValueGraphMode.AREA)
        .justify_mode(common.BigValueJustifyMode.AUTO)
        .text_mode(common.BigValueTextMode.AUTO)
        .orientation(common.VizOrientation.AUTO)
        .thresholds(GREEN)
        .color_scheme(dashboard.FieldColor().mode("thresholds"))  # type: ignore[arg-type]
    )
    if mappings:
        panel = panel.mappings(mappings)
    result: stat.Panel = targets(panel, [query])
    return result


def dial(
    title: str, description: str, query: Query, limits: tuple[float, float], span: int = 4
) -> gauge.Panel:
    warning, critical = limits
    panel = (
        base(gauge.Panel(), title, description, "percentunit", span, 4)
        .min(0)
        .max(1)
        .reduce_options(reduce_last())
        .show_threshold_markers(True)
        .thresholds(thresholds((None, "green"), (warning, "orange"), (critical, "red")))
    )
    result: gauge.Panel = targets(panel, [query])
    return result


def timeline(title: str, description: str, query: Query, names: list[tuple[str, str]]) -> Any:
    panel = (
        base(statetimeline.Panel(), title, description, "none", 12, 8)
        .mappings(states(*names))
        .thresholds(GREEN)
        .fill_opacity(80)
        .line_width(0)
        .show_value(common.VisibilityMode.NEVER)
        .merge_values(True)
        .row_height(0.9)
        .legend(
            common_builders.VizLegendOptions()
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    return targets(panel, [query])


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title).id(IDS.next())


# --- the dashboard ---------------------------------------------------------------------------

HEALTH = [("healthy", "green"), ("degraded", "orange"), ("unhealthy", "red")]
ALERT_STATES = [("ok", "green"), ("warning", "orange"), ("critical", "red")]
UP = states(("DOWN", "red"), ("UP", "green"))


def overview() -> list[Any]:
    cores = f"count by (instance) ({rate('livewatch_cpu_seconds_total', IDLE)})"
    return [
        row("Overview"),
        number(
            "Scrape target",
            "Whether Prometheus could scrape livewatch the last time it tried (the `up` series).",
            "none",
            (series("up"), "{{instance}}"),
            mappings=UP,
        ),
        number(
            "livewatch uptime",
            "Time since the livewatch process started.",
            "dtdurations",
            (f"time() - {series('process_start_time_seconds')}", "{{instance}}"),
        ),
        number(
            "Host uptime",
            "Time since the host booted.",
            "dtdurations",
            (f"time() - {series('livewatch_boot_time_seconds')}", "{{instance}}"),
        ),
        number(
            "WebSocket connections",
            "Open WebSocket connections, summed over the chosen instances.",
            "short",
            (f"sum({series('livewatch_ws_connections')})", "connections"),
        ),
        number(
            "Built-in alerts firing",
            "livewatch's own threshold alerts firing now, all rules and severities.",
            "short",
            (f"sum({series('livewatch_alerts_firing')})", "firing"),
        ),
        number(
            "Health checks not healthy",
            "Health checks whose last run was degraded or unhealthy.",
            "short",
            (
                f"sum({series('livewatch_health_check_status', NOT_HEALTHY)})",
                "not healthy",
            ),
        ),
        dial(
            "CPU busy",
            "Share of CPU time spent busy over the last rate interval, all cores "
            "(as Node Exporter Full's gauge; warning 75 %, critical 90 %).",
            (cpu_busy("instance"), "{{instance}}"),
            (0.75, 0.9),
        ),
        dial(
            "Memory used",
            "Memory in use as a share of total: 1 - MemAvailable / MemTotal "
            "(warning 80 %, critical 90 %).",
            (f"1 - {memory('mem_available')} / {memory('mem_total')}", "{{instance}}"),
            (0.8, 0.9),
        ),
        dial(
            "Fullest filesystem",
            "Used share of the fullest reported filesystem, as df's Use% (warning 80 %, "
            "critical 90 %).",
            (
                f"max by (instance) ({series('livewatch_filesystem_used_ratio')})",
                "{{instance}}",
            ),
            (0.8, 0.9),
        ),
        number(
            "Swap used",
            "Swap in use: SwapTotal - SwapFree (0 where the host has no swap).",
            "bytes",
            (f"{memory('swap_total')} - {memory('swap_free')}", "{{instance}}"),
        ),
        number(
            "CPU cores",
            "CPUs the host has (one series per CPU in livewatch_cpu_seconds_total).",
            "short",
            (cores, "{{instance}}"),
        ),
        number(
            "Load per core (5m)",
            "5-minute load average divided by the number of CPUs: above 1, tasks wait.",
            "short",
            (f"{series('livewatch_load5')} / on (instance) {cores}", "{{instance}}"),
        ),
    ]


def cpu() -> list[Any]:
    by_mode = f"sum by (instance, mode) ({rate('livewatch_cpu_seconds_total')})"
    every = f"sum by (instance) ({rate('livewatch_cpu_seconds_total')})"
    return [
        row("CPU"),
        graph(
            "CPU utilisation",
            "Share of CPU time the host spent busy between two collector samples, across all "
            "cores (the figure the built-in CPU alert uses; warning 75%, critical 90%).",
            "percentunit",
            [(series("livewatch_cpu_usage_ratio"), "{{instance}}")],
            maximum=1,
            limits=(0.75, 0.9),
        ),
        graph(
            "CPU busy per core",
            "Busy share of each CPU (all modes but idle) over the rate interval.",
            "percentunit",
            [(cpu_busy("instance, cpu"), "{{instance}} cpu{{cpu}}")],
            maximum=1,
        ),
        graph(
            "CPU time by mode",
            "Share of CPU time in each mode, all CPUs together (guest time is inside user).",
            "percentunit",
            [(f"{by_mode} / on (instance) group_left () {every}", "{{instance}} {{mode}}")],
            maximum=1,
            stacked=True,
        ),
        graph(
            "Load average",
            "1, 5 and 15-minute load averages: tasks running or waiting to run.",
            "short",
            [
                (series("livewatch_load1"), "{{instance}} 1m"),
                (series("livewatch_load5"), "{{instance}} 5m"),
                (series("livewatch_load15"), "{{instance}} 15m"),
            ],
        ),
        graph(
            "Pressure stall",
            "Share of time some task waited for CPU, memory or I/O, and every task stalled on "
            "memory or I/O (Linux pressure stall information).",
            "percentunit",
            [
                (rate("livewatch_pressure_cpu_waiting_seconds_total"), "{{instance}} CPU some"),
                (
                    rate("livewatch_pressure_memory_waiting_seconds_total"),
                    "{{instance}} memory some",
                ),
                (
                    rate("livewatch_pressure_memory_stalled_seconds_total"),
                    "{{instance}} memory full",
                ),
                (rate("livewatch_pressure_io_waiting_seconds_total"), "{{instance}} I/O some"),
                (rate("livewatch_pressure_io_stalled_seconds_total"), "{{instance}} I/O full"),
            ],
        ),
        graph(
            "Context switches and interrupts",
            "Context switches and interrupts per second.",
            "ops",
            [
                (rate("livewatch_context_switches_total"), "{{instance}} context switches"),
                (rate("livewatch_intr_total"), "{{instance}} interrupts"),
            ],
        ),
        graph(
            "Processes",
            "Tasks runnable and blocked on I/O, and processes and threads created per second.",
            "short",
            [
                (series("livewatch_procs_running"), "{{instance}} running"),
                (series("livewatch_procs_blocked"), "{{instance}} blocked"),
                (rate("livewatch_forks_total"), "{{instance}} forks/s"),
            ],
        ),
    ]


def memory_row() -> list[Any]:
    used = (
        f"{memory('mem_total')} - {memory('mem_free')} - {memory('buffers')} - "
        f"{memory('cached')} - {memory('sreclaimable')}"
    )
    return [
        row("Memory"),
        graph(
            "Memory",
            "Total physical memory, memory in use (total minus available) and available.",
            "bytes",
            [
                (series("livewatch_memory_total_bytes"), "{{instance}} total"),
                (series("livewatch_memory_used_bytes"), "{{instance}} used"),
                (series("livewatch_memory_available_bytes"), "{{instance}} available"),
            ],
        ),
        graph(
            "Memory used",
            "Memory in use as a share of total (the figure the built-in memory alert uses; "
            "warning 80%, critical 90%).",
            "percentunit",
            [(series("livewatch_memory_used_ratio"), "{{instance}}")],
            maximum=1,
            limits=(0.8, 0.9),
        ),
        graph(
            "Memory breakdown",
            "Where memory goes, stacked to MemTotal as Node Exporter Full's 'Memory Basic': "
            "used by processes and the kernel, buffers, page cache with reclaimable slab, free.",
            "bytes",
            [
                (used, "{{instance}} used"),
                (memory("buffers"), "{{instance}} buffers"),
                (f"{memory('cached')} + {memory('sreclaimable')}", "{{instance}} cache"),
                (memory("mem_free"), "{{instance}} free"),
            ],
            stacked=True,
        ),
        graph(
            "Active, inactive and dirty memory",
            "Memory recently used (active) or not (inactive, reclaimed first), and pages "
            "waiting to be written back to disk (dirty, writeback).",
            "bytes",
            [
                (memory("active"), "{{instance}} active"),
                (memory("inactive"), "{{instance}} inactive"),
                (memory("dirty"), "{{instance}} dirty"),
                (memory("writeback"), "{{instance}} writeback"),
            ],
        ),
        graph(
            "Swap",
            "Swap space in total and in use (0 where the host has no swap).",
            "bytes",
            [
                (memory("swap_total"), "{{instance}} total"),
                (f"{memory('swap_total')} - {memory('swap_free')}", "{{instance}} used"),
            ],
        ),
        graph(
            "Page faults and swapping",
            "Page faults per second, major ones (that read from disk) apart, and pages swapped "
            "in and out per second.",
            "ops",
            [
                (rate("livewatch_vmstat_pgfault"), "{{instance}} faults"),
                (rate("livewatch_vmstat_pgmajfault"), "{{instance}} major faults"),
                (rate("livewatch_vmstat_pswpin"), "{{instance}} swapped in"),
                (rate("livewatch_vmstat_pswpout"), "{{instance}} swapped out"),
            ],
        ),
        graph(
            "File handles",
            "File handles allocated on the host, against the most there may be.",
            "short",
            [
                (series("livewatch_filefd_allocated"), "{{instance}} allocated"),
                (series("livewatch_filefd_maximum"), "{{instance}} maximum"),
            ],
            span=16,
        ),
    ]


def disk() -> list[Any]:
    reads = rate("livewatch_disk_reads_completed_total")
    writes = rate("livewatch_disk_writes_completed_total")

    def per_io(seconds: str, ios: str) -> str:
        """Seconds per I/O; 0 rather than NaN while the disk is idle."""
        return f"{rate(f'livewatch_disk_{seconds}_total')} / clamp_min({ios}, 1e-9)"

    return [
        row("Disk"),
        base(
            bargauge.Panel(),
            "Filesystem used",
            "Space used on each filesystem as a share of what unprivileged users can use, as "
            "df's Use% (warning 80%, critical 90%). Filesystems follow node_exporter's default "
            "exclusions.",
            "percentunit",
            12,
            8,
        )
        .min(0)
        .max(1)
        .reduce_options(reduce_last())
        .orientation(common.VizOrientation.HORIZONTAL)
        .display_mode(common.BarGaugeDisplayMode.GRADIENT)
        .show_unfilled(True)
        .thresholds(thresholds((None, "green"), (0.8, "orange"), (0.9, "red")))
        .with_target(
            prometheus.Dataquery()
            .expr(series("livewatch_filesystem_used_ratio"))
            .legend_format("{{instance}} {{mountpoint}} ({{device}})")
            .range()
            .ref_id("A")
            .datasource(DATASOURCE)
        ),
        graph(
            "Filesystem space available",
            "Space available to unprivileged users on each filesystem, against its size.",
            "bytes",
            [
                (
                    series("livewatch_filesystem_avail_bytes"),
                    "{{instance}} {{mountpoint}} available",
                ),
                (series("livewatch_filesystem_size_bytes"), "{{instance}} {{mountpoint}} size"),
            ],
            span=12,
        ),
        graph(
            "Disk throughput",
            "Bytes read and written per second, per disk (partitions are counted in their disk).",
            "Bps",
            [
                (rate("livewatch_disk_read_bytes_total"), "{{instance}} {{device}} read"),
                (rate("livewatch_disk_written_bytes_total"), "{{instance}} {{device}} written"),
            ],
            span=6,
        ),
        graph(
            "Disk IOPS",
            "Reads and writes completed per second, per disk.",
            "iops",
            [
                (reads, "{{instance}} {{device}} reads"),
                (writes, "{{instance}} {{device}} writes"),
            ],
            span=6,
        ),
        graph(
            "Disk utilisation",
            "Share of time each disk was busy with I/O (100% is saturated for a single "
            "queue; SSDs and arrays serve several at once).",
            "percentunit",
            [(rate("livewatch_disk_io_time_seconds_total"), "{{instance}} {{device}}")],
            span=6,
        ),
        graph(
            "Disk latency",
            "Average time one read or write took over the rate interval (0 while idle).",
            "s",
            [
                (per_io("read_time_seconds", reads), "{{instance}} {{device}} read"),
                (per_io("write_time_seconds", writes), "{{instance}} {{device}} write"),
            ],
            span=6,
        ),
    ]


def network() -> list[Any]:
    def both(metric: str) -> list[Query]:
        return [
            (rate(f"livewatch_network_receive_{metric}_total"), "{{instance}} {{device}} receive"),
            (
                rate(f"livewatch_network_transmit_{metric}_total"),
                "{{instance}} {{device}} transmit",
            ),
        ]

    return [
        row("Network"),
        graph(
            "Network traffic",
            "Bytes received and sent per second, per network device.",
            "Bps",
            both("bytes"),
            span=6,
        ),
        graph(
            "Network packets",
            "Packets received and sent per second, per network device.",
            "pps",
            both("packets"),
            span=6,
        ),
        graph(
            "Network errors",
            "Receive and transmit errors per second, per network device: bad frames, "
            "overruns, carrier losses.",
            "pps",
            both("errs"),
            span=6,
        ),
        graph(
            "Network drops",
            "Packets dropped per second on receive and on transmit, per network device.",
            "pps",
            both("drop"),
            span=6,
        ),
    ]


def livewatch() -> list[Any]:
    return [
        row("livewatch: WebSocket hub"),
        graph(
            "Connections",
            "Open WebSocket connections on each node.",
            "short",
            [(series("livewatch_ws_connections"), "{{instance}}")],
        ),
        graph(
            "Subscriptions by channel kind",
            "Subscriptions of the open connections, by channel kind.",
            "short",
            [(f"sum by (kind) ({series('livewatch_ws_subscriptions')})", "{{kind}}")],
        ),
        graph(
            "Events published",
            "Events published per second, by event type (built-in types; any other is 'other').",
            "cps",
            [(f"sum by (event) ({rate('livewatch_events_published_total')})", "{{event}}")],
        ),
        graph(
            "Deliveries",
            "Event frames handed to connections per second.",
            "cps",
            [
                (
                    f"sum by (instance) ({rate('livewatch_ws_deliveries_total')})",
                    "{{instance}}",
                )
            ],
        ),
        graph(
            "Slow disconnects",
            "Connections closed with 1013 per minute because they stopped reading and were "
            "owed more than MAX_OUTBOX_BYTES.",
            "cpm",
            [
                (
                    f"sum by (instance) ({rate('livewatch_ws_slow_disconnects_total')}) * 60",
                    "{{instance}}",
                )
            ],
        ),
        graph(
            "Broadcast duration",
            "Time to fan one event out to a channel's subscribers, median and 99th percentile.",
            "s",
            [
                (quantile(0.5, "livewatch_broadcast_duration_seconds"), "{{instance}} p50"),
                (quantile(0.99, "livewatch_broadcast_duration_seconds"), "{{instance}} p99"),
            ],
        ),
        graph(
            "Event-loop lag",
            "How late the event loop woke a 0.5 s sleep: anything that blocks the loop delays "
            "every delivery by as much.",
            "s",
            [
                (quantile(0.5, "livewatch_event_loop_lag_seconds"), "{{instance}} p50"),
                (quantile(0.99, "livewatch_event_loop_lag_seconds"), "{{instance}} p99"),
            ],
        ),
        graph(
            "livewatch process CPU",
            "CPU the livewatch process uses, in cores.",
            "percentunit",
            [(rate("process_cpu_seconds_total"), "{{instance}}")],
        ),
        graph(
            "livewatch process memory",
            "Resident memory of the livewatch process.",
            "bytes",
            [(series("process_resident_memory_bytes"), "{{instance}}")],
        ),
    ]


def health() -> list[Any]:
    status = "livewatch_health_check_status"
    firing = "livewatch_alerts_firing"
    stall = (
        f"timestamp({series('livewatch_collector_last_success_timestamp_seconds')}) - "
        f"{series('livewatch_collector_last_success_timestamp_seconds')}"
    )
    return [
        row("Health checks and alerts"),
        timeline(
            "Health checks",
            "State of each health check at its last run: healthy, degraded or unhealthy.",
            (
                f"sum by (instance, check) ({series(status, DEGRADED)}) + 2 * "
                f"sum by (instance, check) ({series(status, UNHEALTHY)})",
                "{{instance}} {{check}}",
            ),
            HEALTH,
        ),
        graph(
            "Health check latency",
            "How long each health check took the last time it ran.",
            "s",
            [(series("livewatch_health_check_latency_seconds"), "{{instance}} {{check}}")],
            span=12,
        ),
        timeline(
            "Built-in alerts",
            "livewatch's own threshold alerts by rule: ok, warning or critical.",
            (
                f"max by (instance, rule) ({series(firing, WARNING)}) + 2 * "
                f"max by (instance, rule) ({series(firing, CRITICAL)})",
                "{{instance}} {{rule}}",
            ),
            ALERT_STATES,
        ),
        graph(
            "Collector duration",
            "Time to take and publish one host sample, median and 99th percentile.",
            "s",
            [
                (quantile(0.5, "livewatch_collector_duration_seconds"), "{{instance}} p50"),
                (quantile(0.99, "livewatch_collector_duration_seconds"), "{{instance}} p99"),
            ],
            span=12,
        ),
        graph(
            "Age of the last host sample",
            "Seconds since the collector last completed a sample, measured at scrape time, "
            "against the stall limit of three collector intervals used by the "
            "LivewatchCollectorStalled alert.",
            "s",
            [
                (stall, "{{instance}} age"),
                (
                    f"3 * {series('livewatch_collector_interval_seconds')}",
                    "{{instance}} stall limit",
                ),
            ],
            span=12,
        ),
        graph(
            "Collector failures",
            "Host samples that failed per minute; the livewatch log says why.",
            "cpm",
            [
                (
                    f"sum by (instance) ({rate('livewatch_collector_failures_total')}) * 60",
                    "{{instance}}",
                )
            ],
            span=12,
        ),
    ]


def build() -> dashboard.Dashboard:
    IDS.last = 0
    board = (
        dashboard.Dashboard("livewatch overview")
        .uid("livewatch-overview")
        .description(
            "livewatch: the host (as Node Exporter Full shows it), the WebSocket hub, health "
            "checks and alerts, from livewatch's /metrics."
        )
        .tags(["livewatch"])
        .annotation(
            dashboard.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .type("dashboard")
        )
        .editable()
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-1h", "now")
        .timezone("")
        .with_variable(
            dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
        .with_variable(
            dashboard.QueryVariable("job")
            .label("Job")
            .datasource(DATASOURCE)
            .query("label_values(livewatch_build_info, job)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
        )
        .with_variable(
            dashboard.QueryVariable("instance")
            .label("Instance")
            .datasource(DATASOURCE)
            .query('label_values(livewatch_build_info{job=~"$job"}, instance)')
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(VariableSort.ALPHABETICAL_ASC)
            .include_all(True)
            .multi(True)
        )
    )
    for item in [*overview(), *cpu(), *memory_row(), *disk(), *network(), *livewatch(), *health()]:
        board = board.with_row(item) if isinstance(item, dashboard.Row) else board.with_panel(item)
    return board


def render() -> str:
    model = build().build()
    text = JSONEncoder(sort_keys=True, indent=2).encode(model)
    return json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if argv == ["--check"]:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT} is not what grafana/dashboard.py makes: run `make dashboards`")
            return 1
        return 0
    if argv:
        print(__doc__)
        return 2
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
