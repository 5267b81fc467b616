"""Which nodes are up, and how many connections hold each channel across all of them.

Each node writes its record (node id, address, version, boot epoch, connections, its last
sample) and its per-channel subscriber counts with an expiry a few heartbeats long. A node
whose record is older than that is reported as lapsed until it is forgotten.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.typing import EncodableT

from app.hub.redis_broker import redis_unavailable, text

# A record this many heartbeats old is lapsed; twice that, and the node is forgotten.
LAPSE_AFTER = 3


class ClusterStore(Protocol):
    interval: float  # seconds between a node's heartbeats

    async def beat(self, node: str, record: dict[str, Any], presence: dict[str, int]) -> None: ...

    async def nodes(self) -> list[dict[str, Any]]:
        """Every node seen lately, each record with `state` ("up" or "lapsed") and `age`."""
        ...

    async def presence(self, exclude: str) -> dict[str, int]:
        """Subscribers per channel, summed over the nodes that are up except `exclude`."""
        ...


def with_state(record: dict[str, Any], now: float, interval: float) -> dict[str, Any]:
    age = max(0.0, now - float(record["heartbeat_at"]))
    state = "up" if age <= LAPSE_AFTER * interval else "lapsed"
    return {**record, "age_seconds": round(age, 3), "state": state}


class MemoryCluster:
    """One node: its own record is the whole cluster."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._record: dict[str, Any] | None = None

    async def beat(self, node: str, record: dict[str, Any], presence: dict[str, int]) -> None:
        self._record = record

    async def nodes(self) -> list[dict[str, Any]]:
        if self._record is None:
            return []
        return [with_state(self._record, time.time(), self.interval)]

    async def presence(self, exclude: str) -> dict[str, int]:
        return {}  # there is no other node


class RedisCluster:
    def __init__(self, client: aioredis.Redis, prefix: str, interval: float) -> None:
        self._redis = client
        self.prefix = prefix
        self.interval = interval

    @property
    def _index(self) -> str:
        return f"{self.prefix}:nodes"

    def _record_key(self, node: str) -> str:
        return f"{self.prefix}:node:{node}"

    def _presence_key(self, node: str) -> str:
        return f"{self.prefix}:presence:{node}"

    async def beat(self, node: str, record: dict[str, Any], presence: dict[str, int]) -> None:
        keep = max(1, round(2 * LAPSE_AFTER * self.interval))
        now = time.time()
        with redis_unavailable():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._record_key(node), json.dumps(record), ex=keep)
                pipe.delete(self._presence_key(node))
                if presence:
                    counts: dict[EncodableT, EncodableT] = dict(presence.items())
                    pipe.hset(self._presence_key(node), mapping=counts)
                    pipe.expire(self._presence_key(node), keep)
                pipe.zadd(self._index, {node: now})
                pipe.zremrangebyscore(self._index, "-inf", now - keep)
                await pipe.execute()

    async def _members(self, within: float | None = None) -> list[str]:
        """Nodes whose last heartbeat is at most `within` seconds old (all if None)."""
        low = "-inf" if within is None else time.time() - within
        names = await self._redis.zrangebyscore(self._index, low, "+inf")
        return [text(name) for name in names]

    async def nodes(self) -> list[dict[str, Any]]:
        with redis_unavailable():
            members = await self._members()
            raws = await self._redis.mget([self._record_key(m) for m in members]) if members else []
        now = time.time()
        return [with_state(json.loads(raw), now, self.interval) for raw in raws if raw]

    async def presence(self, exclude: str) -> dict[str, int]:
        with redis_unavailable():
            members = await self._members(within=LAPSE_AFTER * self.interval)
            async with self._redis.pipeline(transaction=False) as pipe:
                for member in members:
                    if member != exclude:
                        pipe.hgetall(self._presence_key(member))
                answers = await pipe.execute()
        totals: Counter[str] = Counter()
        for counts in answers:
            for channel, count in counts.items():
                totals[text(channel)] += int(count)
        return dict(totals)
