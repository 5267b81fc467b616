"""Reconnect and retry delays: exponential backoff with full jitter."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

# 2**64 times any sane min_delay is far past any max_delay; capping the exponent keeps
# the arithmetic finite however many attempts fail.
MAX_EXPONENT = 64


@dataclass(frozen=True)
class Backoff:
    """delay(attempt) = random(0, min(max_delay, min_delay * 2**attempt)), attempt from 0.

    Full jitter spreads the reconnects of many clients cut off at once (a server restart)
    over the whole window instead of bunching them at its edges."""

    min_delay: float = 0.1
    max_delay: float = 5.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.min_delay) and math.isfinite(self.max_delay)):
            raise ValueError("backoff delays must be finite")
        if not 0 < self.min_delay <= self.max_delay:
            raise ValueError(
                f"need 0 < min_delay <= max_delay, got {self.min_delay} and {self.max_delay}"
            )

    def ceiling(self, attempt: int) -> float:
        """The largest delay of this attempt."""
        if attempt < 0:
            raise ValueError("attempt counts from 0")
        return min(self.max_delay, self.min_delay * 2.0 ** min(attempt, MAX_EXPONENT))

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """A random delay in [0, ceiling(attempt)]; rng gives a number in [0, 1]."""
        return rng() * self.ceiling(attempt)
