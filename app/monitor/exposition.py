"""The Prometheus text format (0.0.4), written by livewatch: what GET /metrics serves.

prometheus_client's generate_latest() spends about 8 us on each series (label and name
escaping checks, float formatting through several helpers), more than node_exporter's
whole scrape costs per series. So /metrics is written here instead:

- Collectors that know their own text (`exposition()`: the host families) give it
  directly. What changes once per collector tick is rendered once per tick; the counters
  read at scrape time are formatted straight from /proc.
- Every other collector (the prometheus_client Counters, Gauges and Histograms of the hub
  and the monitor, process_* and python_info) is collected as usual and written by a
  lean formatter. Its `_created` series are left out, as node_exporter has none: in the
  text format they would each be one more gauge series to store.

The registry still holds every collector, so registry.collect() and get_sample_value()
see the same series as a scrape.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

Kind = Literal["counter", "gauge", "untyped"]


def format_value(value: float) -> str:
    """A sample value as Prometheus reads it: integers without a fraction, +Inf, NaN."""
    if type(value) is int:
        return str(value)
    if value - value == 0:  # finite
        return repr(value)
    if value != value:
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def escape_label_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def escape_help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


def label_text(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    pairs = ",".join(
        f'{name}="{escape_label_value(value)}"' for name, value in zip(names, values, strict=True)
    )
    return "{" + pairs + "}"


class Texts:
    """Text that repeats from one scrape to the next, made once: each family's HELP and
    TYPE lines, and each series' `name{label="value",...} ` (the set of CPUs, devices,
    modes and label values hardly changes). Bounded: cleared past `limit` entries."""

    def __init__(self, limit: int = 8192) -> None:
        self.limit = limit
        self._prefixes: dict[tuple[str, tuple[str, ...]], str] = {}
        self._headers: dict[tuple[str, str, str], str] = {}

    def prefix(self, name: str, labelnames: tuple[str, ...], values: tuple[str, ...]) -> str:
        key = (name, values)
        text = self._prefixes.get(key)
        if text is None:
            if len(self._prefixes) >= self.limit:
                self._prefixes.clear()
            text = self._prefixes[key] = name + label_text(labelnames, values) + " "
        return text

    def header(self, name: str, kind: str, help_text: str) -> str:
        key = (name, kind, help_text)
        text = self._headers.get(key)
        if text is None:
            if len(self._headers) >= self.limit:
                self._headers.clear()
            text = f"# HELP {name} {escape_help(help_text)}\n# TYPE {name} {kind}\n"
            self._headers[key] = text
        return text


TEXTS = Texts()


@dataclass(slots=True)
class Family:
    """One metric family: its full sample name (`_total` included for counters), type,
    help, label names and samples. It renders itself as text, and as a prometheus_client
    Metric for registry.collect()."""

    name: str
    kind: Kind
    help: str
    labelnames: tuple[str, ...] = ()
    samples: list[tuple[tuple[str, ...], float]] = field(default_factory=list)

    def add(self, labelvalues: tuple[str, ...], value: float) -> None:
        self.samples.append((labelvalues, value))

    def render(self, out: list[str], fmt: Callable[[float], str] = format_value) -> None:
        if not self.samples:
            return
        name = self.name
        out.append(TEXTS.header(name, self.kind, self.help))
        names = self.labelnames
        if not names:
            for _, value in self.samples:
                out.append(f"{name} {fmt(value)}\n")
            return
        prefix = TEXTS.prefix
        for values, value in self.samples:
            out.append(prefix(name, names, values) + fmt(value) + "\n")

    def metric(self) -> Metric:
        if self.kind == "counter":
            metric = Metric(self.name.removesuffix("_total"), self.help, "counter")
        else:
            metric = Metric(self.name, self.help, "unknown" if self.kind == "untyped" else "gauge")
        for values, value in self.samples:
            metric.add_sample(self.name, dict(zip(self.labelnames, values, strict=True)), value)
        return metric


def render_families(families: Iterable[Family]) -> str:
    out: list[str] = []
    for family in families:
        family.render(out)
    return "".join(out)


class Registry(CollectorRegistry):
    """A CollectorRegistry that keeps its collectors in order, so that /metrics can ask
    each for its text the cheapest way it offers."""

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self.collectors: list[Collector] = []

    def register(self, collector: Collector) -> None:
        super().register(collector)
        self.collectors.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        self.collectors.remove(collector)


PROMETHEUS_TYPES = {
    "counter": "counter",
    "gauge": "gauge",
    "histogram": "histogram",
    "gaugehistogram": "histogram",
    "summary": "summary",
    "info": "gauge",
    "stateset": "gauge",
    "unknown": "untyped",
}
# OpenMetrics-only samples: generate_latest() turns them into extra gauge families.
SKIPPED_SUFFIXES = ("_created", "_gsum", "_gcount")


def render_metric(metric: Metric, out: list[str]) -> None:
    """One prometheus_client Metric in the text format, as generate_latest() writes it
    but without the _created, _gsum and _gcount series."""
    name = metric.name
    if metric.type == "counter":
        name += "_total"
    elif metric.type == "info":
        name += "_info"
    skipped = tuple(metric.name + suffix for suffix in SKIPPED_SUFFIXES)
    lines = [
        f"{sample.name}{label_text(tuple(sample.labels), tuple(sample.labels.values()))} "
        f"{format_value(sample.value)}\n"
        for sample in metric.samples
        if sample.name not in skipped
    ]
    if not lines:
        return
    kind = PROMETHEUS_TYPES.get(metric.type, "untyped")
    out.append(f"# HELP {name} {escape_help(metric.documentation)}\n# TYPE {name} {kind}\n")
    out.extend(lines)


def render_client_metric(metric: object, out: list[str]) -> bool:
    """A prometheus_client Counter, Gauge or Histogram written from its values directly,
    without building its Sample tuples: a third of the cost of collect(). Relies on the
    library's attributes (_metrics, _value, _buckets, _sum, _upper_bounds), so anything
    else, a subclass or a Gauge with set_function() answers False and is collected the
    usual way; tests check both ways give the same text."""
    kind = type(metric)
    if kind is Counter:
        suffixes: tuple[str, ...] = ("_total",)
    elif kind is Gauge:
        suffixes = ("",)
    elif kind is Histogram:
        suffixes = ("_bucket", "_count", "_sum")
    else:
        return False
    name: str = metric._name  # type: ignore[attr-defined]
    labelnames: tuple[str, ...] = tuple(metric._labelnames)  # type: ignore[attr-defined]
    if labelnames:
        with metric._lock:  # type: ignore[attr-defined]
            children = list(metric._metrics.items())  # type: ignore[attr-defined]
    else:
        children = [((), metric)]
    if kind is Gauge and any("_child_samples" in vars(child) for _, child in children):
        return False  # set_function(): the value comes from a callback
    if not children:
        return True
    prefix = TEXTS.prefix
    doc: str = metric._documentation  # type: ignore[attr-defined]
    if kind is Histogram:
        out.append(TEXTS.header(name, "histogram", doc))
        bucket, count, total = (name + suffix for suffix in suffixes)
        with_le = (*labelnames, "le")
        for values, child in children:
            bounds = child._upper_bounds
            cumulative = 0.0
            for bound, value in zip(bounds, child._buckets, strict=True):
                cumulative += value.get()
                le = (*values, _le(bound))
                out.append(prefix(bucket, with_le, le) + format_value(cumulative) + "\n")
            out.append(prefix(count, labelnames, values) + format_value(cumulative) + "\n")
            if bounds[0] >= 0:
                out.append(
                    prefix(total, labelnames, values) + format_value(child._sum.get()) + "\n"
                )
        return True
    sample = name + suffixes[0]
    out.append(TEXTS.header(sample, "counter" if kind is Counter else "gauge", doc))
    for values, child in children:
        out.append(prefix(sample, labelnames, values) + format_value(child._value.get()) + "\n")
    return True


def _le(bound: float) -> str:
    text = _LE.get(bound)
    if text is None:
        text = _LE[bound] = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text


_LE: dict[float, str] = {}


def render_registry(registry: Registry) -> bytes:
    """The whole registry in the text format, one collector after the other, each the
    cheapest way it offers."""
    out: list[str] = []
    for collector in registry.collectors:
        exposition = getattr(collector, "exposition", None)
        if exposition is not None:
            out.append(exposition())
        elif not render_client_metric(collector, out):
            for metric in collector.collect():
                render_metric(metric, out)
    return "".join(out).encode()


def metrics_of(families: Iterable[Family]) -> Iterator[Metric]:
    for family in families:
        if family.samples:
            yield family.metric()
