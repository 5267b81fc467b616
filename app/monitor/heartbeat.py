"""This node's heartbeat in the cluster view: who it is, how busy, and its last sample."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from app import __version__
from app.hub.broker import BrokerUnavailable
from app.hub.cluster import ClusterStore
from app.hub.hub import Hub
from app.monitor.sample import Sample
from app.periodic import run_every

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self,
        store: ClusterStore,
        hub: Hub,
        address: str,
        last_sample: Callable[[], Sample | None],
    ) -> None:
        self.store = store
        self.hub = hub
        self.address = address
        self.last_sample = last_sample
        self.started_at = time.time()
        self.failing = False

    def record(self) -> dict[str, Any]:
        sample = self.last_sample()
        return {
            "node": self.hub.node,
            "address": self.address,
            "version": __version__,
            "epoch": self.hub.boot_id,
            "connections": len(self.hub.connections),
            "started_at": self.started_at,
            "heartbeat_at": time.time(),
            "sample": sample.as_dict() if sample is not None else None,
        }

    async def beat(self) -> None:
        try:
            await self.store.beat(self.hub.node, self.record(), self.hub.presence())
        except BrokerUnavailable as exc:
            if not self.failing:
                log.warning("heartbeat not written: %s", exc)
            self.failing = True
            return
        if self.failing:
            log.info("heartbeat written again")
        self.failing = False

    async def run(self) -> None:
        await run_every(self.store.interval, self.beat, "the heartbeat")
