"""A custom collector for the host figures that are not plain gauges of the last sample.

The OS keeps CPU time and network traffic as running totals, so they are read at scrape
time and exposed as counters (Prometheus computes the rates). Filesystems come from the
collector's latest sample, which read them in a worker thread: a hung network mount then
stalls the collector (and its stall alert fires) rather than the scrape.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import psutil
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from app.monitor.filesystems import FilesystemUsage

# psutil counts guest time inside user time on Linux (as /proc/stat does); node_exporter
# leaves the guest modes out of its per-mode CPU counter for the same reason.
GUEST_MODES = frozenset({"guest", "guest_nice"})
FILESYSTEM_LABELS = ["device", "fstype", "mountpoint"]


class HostCollector:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.filesystems: tuple[FilesystemUsage, ...] = ()
        registry.register(self)

    def collect(self) -> Iterable[Metric]:
        cpu = CounterMetricFamily(
            "livewatch_cpu_seconds",
            "CPU time spent in each mode, summed over all CPUs.",
            labels=["mode"],
        )
        for mode, seconds in psutil.cpu_times()._asdict().items():
            if mode not in GUEST_MODES:
                cpu.add_metric([mode], seconds)
        yield cpu

        received = CounterMetricFamily(
            "livewatch_network_receive_bytes",
            "Bytes received by each network device since it came up.",
            labels=["device"],
        )
        sent = CounterMetricFamily(
            "livewatch_network_transmit_bytes",
            "Bytes sent by each network device since it came up.",
            labels=["device"],
        )
        for device, counters in sorted(psutil.net_io_counters(pernic=True).items()):
            received.add_metric([device], counters.bytes_recv)
            sent.add_metric([device], counters.bytes_sent)
        yield received
        yield sent

        yield GaugeMetricFamily(
            "livewatch_boot_time_seconds",
            "Unix time the host booted.",
            value=psutil.boot_time(),
        )
        yield from self._filesystem_families()

    def _filesystem_families(self) -> Iterator[Metric]:
        families = {
            "size": GaugeMetricFamily(
                "livewatch_filesystem_size_bytes",
                "Filesystem size.",
                labels=FILESYSTEM_LABELS,
            ),
            "free": GaugeMetricFamily(
                "livewatch_filesystem_free_bytes",
                "Filesystem space free, including the blocks reserved for root.",
                labels=FILESYSTEM_LABELS,
            ),
            "avail": GaugeMetricFamily(
                "livewatch_filesystem_avail_bytes",
                "Filesystem space available to unprivileged users.",
                labels=FILESYSTEM_LABELS,
            ),
            "used_ratio": GaugeMetricFamily(
                "livewatch_filesystem_used_ratio",
                "Filesystem space used as a share of what unprivileged users can use (0-1), "
                "as df's Use% and the built-in disk alert.",
                labels=FILESYSTEM_LABELS,
            ),
            "readonly": GaugeMetricFamily(
                "livewatch_filesystem_readonly",
                "1 if the filesystem is mounted read-only, else 0.",
                labels=FILESYSTEM_LABELS,
            ),
        }
        for fs in self.filesystems:
            labels = [fs.device, fs.fstype, fs.mountpoint]
            families["size"].add_metric(labels, fs.size_bytes)
            families["free"].add_metric(labels, fs.free_bytes)
            families["avail"].add_metric(labels, fs.avail_bytes)
            families["used_ratio"].add_metric(labels, fs.used_ratio)
            families["readonly"].add_metric(labels, 1 if fs.readonly else 0)
        yield from families.values()
