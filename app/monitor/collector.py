"""The periodic collector: one host sample feeds the gauges, the page and the alerts."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from app.hub.events import EventBroadcaster, EventType
from app.hub.hub import HubFigures
from app.monitor.alerts import AlertEngine
from app.monitor.host_reading import HostReader
from app.monitor.metrics import MonitorMetrics
from app.monitor.sample import Sample
from app.periodic import run_every
from app.timeutil import now_rfc3339

log = logging.getLogger(__name__)

T = TypeVar("T")


class Collector:
    def __init__(
        self,
        interval: float,
        history_seconds: int,
        disk_path: str,
        node: str,
        hub_figures: Callable[[], HubFigures],
        broadcaster: EventBroadcaster,
        metrics: MonitorMetrics,
        alerts: AlertEngine,
    ) -> None:
        self.interval = interval
        self.node = node
        self.hub_figures = hub_figures
        self.broadcaster = broadcaster
        self.metrics = metrics
        self.alerts = alerts
        self.history: deque[tuple[float, Sample]] = deque(
            maxlen=max(1, int(history_seconds / interval) + 1)
        )
        self.last: Sample | None = None
        self.host = HostReader(disk_path)
        # psutil.cpu_percent(interval=None) keeps its baseline per thread: read the host on
        # one thread of our own, or a reading taken on a fresh asyncio.to_thread worker says
        # 0.0 % and one on a long-idle worker averages over minutes. The reader's own
        # baselines (rates, the processes' CPU time) are kept on that thread too.
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livewatch-host")

    async def _on_reader(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reader, fn, *args)

    async def prime(self) -> None:
        """Set the baselines on the reader thread, one period before the first sample."""
        await self._on_reader(self.host.prime)

    def close(self) -> None:
        self._reader.shutdown(wait=False, cancel_futures=True)

    async def collect(self) -> Sample:
        """Take one sample and send it to all three outputs."""
        started = time.perf_counter()
        try:
            reading = await self._on_reader(self.host.read)
            self.metrics.observe_host(reading)
            hub = self.hub_figures()
            sample = Sample.of(
                reading.figures, self.node, hub.connections, hub.queued_frames, now_rfc3339()
            )
            await self.process(sample)
        except Exception:
            self.metrics.collector_failures.inc()
            raise
        self.metrics.collector_duration.observe(time.perf_counter() - started)
        self.metrics.collector_last_success.set(time.time())
        return sample

    async def process(self, sample: Sample) -> None:
        """Publish a sample and evaluate the alert rules on it (tests inject samples here)."""
        self.last = sample
        self.history.append((time.monotonic(), sample))
        await self.broadcaster.emit(EventType.SYSTEM_METRIC, sample.as_dict())
        await self.alerts.evaluate(sample)

    async def latest(self) -> Sample:
        return self.last if self.last is not None else await self.collect()

    def history_since(self, seconds: float) -> list[Sample]:
        oldest = time.monotonic() - seconds
        return [sample for taken, sample in self.history if taken >= oldest]

    async def run(self) -> None:
        # The first sample waits one period: cpu_percent() measures since the previous call.
        await run_every(self.interval, self.collect, "the collector", first_after=self.interval)
