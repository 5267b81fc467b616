"""Idempotent publishing shared by every node through Redis (see hub.idempotency).

The first request with a key claims it with SET NX for a lease, publishes, then stores its
answer under the same key for the whole window. A repeat on any node finds the claim: it
gets the answer, or waits for it while the first is still publishing.

The lease is longer than a publish can take while Redis answers (a few command timeouts),
and no longer: a claim that never gets its answer, because its node died mid-publish or
because Redis ran the SET NX only after its sender had timed out and given up, lapses with
it, and a repeat then publishes instead of being refused for the rest of the window.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis

from app.hub.broker import BrokerUnavailable
from app.hub.idempotency import Answer, KeyReused
from app.hub.redis_broker import redis_unavailable

POLL_SECONDS = 0.02


class RedisIdempotency:
    def __init__(
        self, client: aioredis.Redis, prefix: str, window: float, lease: float = 10.0
    ) -> None:
        self._redis = client
        self.prefix = prefix
        self.window_ms = max(1, math.ceil(window * 1000))
        self.lease_ms = min(self.window_ms, max(1, math.ceil(lease * 1000)))
        # A repeat waits out a whole lease: if the claim lapses meanwhile, it publishes.
        self.wait_limit = lease + 1.0

    def _name(self, key: str) -> str:
        return f"{self.prefix}:idem:{hashlib.sha256(key.encode()).hexdigest()}"

    async def run(
        self, key: str, fingerprint: str, publish: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        with redis_unavailable():
            return await self._run(self._name(key), fingerprint, publish)

    async def _run(
        self, name: str, fingerprint: str, publish: Callable[[], Awaitable[Answer]]
    ) -> tuple[Answer, bool]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_limit
        while True:
            claim = json.dumps({"f": fingerprint})
            if await self._redis.set(name, claim, nx=True, px=self.lease_ms):
                try:
                    answer = await publish()
                except BaseException:
                    # No answer: a retry may publish. Shielded so a cancelled request still
                    # releases its claim.
                    await asyncio.shield(self._redis.delete(name))
                    raise
                stored = json.dumps({"f": fingerprint, "a": answer})
                await self._redis.set(name, stored, xx=True, px=self.window_ms)
                return answer, False
            raw = await self._redis.get(name)
            if raw is None:
                continue  # expired or released between the two calls: claim it again
            entry: dict[str, Any] = json.loads(raw)
            if entry["f"] != fingerprint:
                raise KeyReused(name)
            if "a" in entry:
                return entry["a"], True
            if loop.time() > deadline:
                raise BrokerUnavailable(
                    "the first request with this idempotency key is still publishing"
                )
            await asyncio.sleep(POLL_SECONDS)
