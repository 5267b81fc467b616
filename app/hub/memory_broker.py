"""The embedded broker: one process, seqs in a dict, delivery by direct call."""

from __future__ import annotations

from app.hub.broker import Deliver, Published


class MemoryBroker:
    def __init__(self) -> None:
        self._seqs: dict[str, int] = {}
        self._deliver: Deliver | None = None

    async def start(self, deliver: Deliver) -> None:
        self._deliver = deliver

    async def stop(self) -> None:
        self._deliver = None

    async def publish(self, channel: str, payload: bytes) -> Published:
        if self._deliver is None:
            raise RuntimeError("broker is not started")
        seq = self._seqs.get(channel, 0) + 1
        self._seqs[channel] = seq
        return Published(channel, seq, self._deliver(channel, seq, payload))

    async def last_seq(self, channel: str) -> int:
        return self._seqs.get(channel, 0)

    async def subscribe(self, channel: str) -> None:
        return None

    async def unsubscribe(self, channel: str) -> None:
        return None
