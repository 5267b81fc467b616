"""Event-loop lag: how late the loop wakes a task whose sleep is over.

Every fan-out, WebSocket read and scrape runs on the one event loop, so a blocking call
anywhere delays them all; this measures that delay directly.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Histogram

PROBE_INTERVAL = 0.5
LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LoopLag:
    def __init__(self, registry: CollectorRegistry, interval: float = PROBE_INTERVAL) -> None:
        self.interval = interval
        self.lag = Histogram(
            "livewatch_event_loop_lag_seconds",
            f"How late the event loop woke a {interval:g} s sleep, measured every {interval:g} s.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            self.lag.observe(max(0.0, loop.time() - due))
