"""A fixed-rate loop: the period does not stretch when one round of work is slow."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def run_every(
    interval: float, work: Callable[[], Awaitable[object]], what: str, *, first_after: float = 0.0
) -> None:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(first_after)
    next_run = loop.time()
    while True:
        try:
            await work()
        except Exception:
            log.exception("%s failed; trying again in %g s", what, interval)
        next_run += interval
        now = loop.time()
        while next_run <= now:  # a round overran: skip the ticks it missed
            next_run += interval
        await asyncio.sleep(next_run - now)
