"""Sweep mode: the same workload at rising offered rates, to find the highest rate that meets a P99 SLO."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loadtest.latency_histogram import percentile_key
from loadtest.run_summary import RunSummary

RunAtRate = Callable[[float], Awaitable[RunSummary]]


@dataclass(frozen=True)
class SweepConfig:
    """Rates to try (members/s, ascending) and the SLO: P`slo_percentile` TTFT ≤ `slo_ms`, errors ≤ share."""

    rates: tuple[float, ...]
    slo_ms: float
    slo_percentile: float = 99.0
    max_error_fraction: float = 0.01
    refine_steps: int = 0
    is_stop_on_fail: bool = True

    def __post_init__(self) -> None:
        if not self.rates or any(r <= 0 for r in self.rates):
            raise ValueError("a sweep needs at least one rate, all > 0")
        if list(self.rates) != sorted(self.rates):
            raise ValueError("sweep rates must be ascending")
        if not self.slo_ms > 0:
            raise ValueError("slo_ms must be > 0")


class Sweep:
    """Runs rates in order; after the first failing rate, stops (default) and bisects `refine_steps` times."""

    def __init__(self, config: SweepConfig, run_at_rate: RunAtRate, should_stop: Callable[[], bool]) -> None:
        self.config = config
        self.run_at_rate = run_at_rate
        self.should_stop = should_stop
        self.runs: list[RunSummary] = []

    def meets_slo(self, summary: RunSummary) -> bool:
        """True when the run's tail latency and error share are within the SLO."""
        value = summary.data["ttft_ms"].get(percentile_key(self.config.slo_percentile))
        req = summary.data["requests"]
        error_fraction = req["failed"] / req["measured"] if req["measured"] else 1.0
        return value is not None and value <= self.config.slo_ms and error_fraction <= self.config.max_error_fraction

    async def run(self) -> dict[str, Any]:
        """Run the sweep and return its JSON-ready result."""
        best, first_fail = None, None
        for rate in self.config.rates:
            if self.should_stop():
                break
            if await self._try(rate):
                best = rate
            elif first_fail is None:
                first_fail = rate
                if self.config.is_stop_on_fail:
                    break
        low, high = best, first_fail
        for _ in range(self.config.refine_steps if low is not None and high is not None else 0):
            if self.should_stop() or low is None or high is None:
                break
            mid = round((low + high) / 2, 4)
            if await self._try(mid):
                low = best = mid
            else:
                high = mid
        return self.result(best)

    async def _try(self, rate: float) -> bool:
        summary = await self.run_at_rate(rate)
        summary.data["meets_slo"] = self.meets_slo(summary)
        self.runs.append(summary)
        return bool(summary.data["meets_slo"])

    def result(self, best: float | None) -> dict[str, Any]:
        """Runs sorted by rate, the SLO and the best rate (None when none met it)."""
        runs = sorted(self.runs, key=lambda s: s.data["schedule"]["rate"])
        return {
            "slo_ms": self.config.slo_ms,
            "slo_percentile": self.config.slo_percentile,
            "max_error_fraction": self.config.max_error_fraction,
            "best_rate": best,
            "runs": [s.data for s in runs],
        }
