"""Health checks: a registry whose checks run concurrently, each under a timeout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from app.timeutil import now_rfc3339


class HealthStatus(StrEnum):
    """A check's state, from best to worst."""

    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"


HEALTHY = HealthStatus.HEALTHY
DEGRADED = HealthStatus.DEGRADED
UNHEALTHY = HealthStatus.UNHEALTHY
STATUS_ORDER = {status.value: rank for rank, status in enumerate(HealthStatus)}


@dataclass(frozen=True)
class Outcome:
    status: str
    message: str


CheckFn = Callable[[], Awaitable[Outcome]]


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str
    latency_ms: float
    message: str
    checked_at: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "latency_ms": self.latency_ms,
            "message": self.message,
            "checked_at": self.checked_at,
        }


@dataclass(frozen=True)
class HealthReport:
    status: str
    checks: dict[str, CheckResult]
    timestamp: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checks": {name: result.as_dict() for name, result in self.checks.items()},
            "timestamp": self.timestamp,
        }


def overall_status(results: list[CheckResult]) -> str:
    return max((r.status for r in results), key=STATUS_ORDER.__getitem__, default=HEALTHY)


class HealthRegistry:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._checks: dict[str, CheckFn] = {}

    def register(self, name: str, check: CheckFn) -> None:
        self._checks[name] = check

    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self) -> HealthReport:
        results = await asyncio.gather(*(self._run_one(n, c) for n, c in self._checks.items()))
        return HealthReport(
            status=overall_status(results),
            checks={result.name: result for result in results},
            timestamp=now_rfc3339(),
        )

    async def _run_one(self, name: str, check: CheckFn) -> CheckResult:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                outcome = await check()
        except TimeoutError:
            outcome = Outcome(UNHEALTHY, f"no answer within {self.timeout:g} s")
        except Exception as exc:  # a failing check is a result, not a crash
            outcome = Outcome(UNHEALTHY, f"{type(exc).__name__}: {exc}")
        if outcome.status not in STATUS_ORDER:
            outcome = Outcome(UNHEALTHY, f"check answered an unknown status {outcome.status!r}")
        return CheckResult(
            name=name,
            status=outcome.status,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            message=outcome.message,
            checked_at=now_rfc3339(),
        )
