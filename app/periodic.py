"""A fixed-rate loop: the period does not stretch when one round of work is slow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_every(interval: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline = max(deadline + interval, loop.time())
        try:
            await work()
        except Exception:
            log.exception("%s failed; trying again in %g s", what, interval)
        await asyncio.sleep(max(0.0, deadline - loop.time()))
