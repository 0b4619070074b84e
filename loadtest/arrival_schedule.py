"""Precomputed, seeded send times for an open-loop run: Poisson, gamma (bursty or smooth) or constant gaps.

The whole schedule is drawn before the first request, so how fast the server answers can never change when
the next request goes out (no coordinated omission).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ARRIVAL_KINDS = ("poisson", "gamma", "constant")


@dataclass(frozen=True)
class ScheduleConfig:
    """Arrivals at `rate` per second. Gamma gaps have shape `burstiness` (1 = Poisson, < 1 burstier).

    With `is_rate_exact` the drawn gaps are scaled so their mean is exactly 1/rate: a Poisson process
    conditioned on its count, whose arrival times are still uniform order statistics. Without it a short run's
    realised rate can miss the offered one by 10-20 % (e.g. 43 requests), which blurs a sweep's x-axis.
    """

    rate: float
    num_requests: int
    arrival: str = "poisson"
    burstiness: float = 1.0
    seed: int = 0
    is_rate_exact: bool = True

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"rate must be a finite number > 0 requests/s, got {self.rate}")
        if self.num_requests < 1:
            raise ValueError(f"num_requests must be >= 1, got {self.num_requests}")
        if self.arrival not in ARRIVAL_KINDS:
            raise ValueError(f"arrival must be one of {ARRIVAL_KINDS}, got {self.arrival!r}")
        if not self.burstiness > 0:
            raise ValueError(f"burstiness must be > 0, got {self.burstiness}")


class ArrivalSchedule:
    """Send offsets in seconds from the start of a run, non-decreasing; the first request goes at 0."""

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config
        self.offsets_s = self._draw(config)

    @staticmethod
    def _draw(cfg: ScheduleConfig) -> np.ndarray:
        rng = np.random.default_rng(cfg.seed)
        n_gaps = cfg.num_requests - 1
        if cfg.arrival == "constant":
            gaps = np.full(n_gaps, 1.0 / cfg.rate)
        elif cfg.arrival == "poisson":
            gaps = rng.exponential(1.0 / cfg.rate, size=n_gaps)
        else:
            # Gamma(shape=b, scale=1/(rate*b)) keeps the mean gap at 1/rate; its CV^2 is 1/b.
            gaps = rng.gamma(cfg.burstiness, 1.0 / (cfg.rate * cfg.burstiness), size=n_gaps)
        if cfg.is_rate_exact and n_gaps > 0 and gaps.sum() > 0:
            gaps = gaps * (n_gaps / cfg.rate) / gaps.sum()
        return np.concatenate([[0.0], np.cumsum(gaps)])

    def __len__(self) -> int:
        return len(self.offsets_s)

    @property
    def duration_s(self) -> float:
        """Offset of the last arrival."""
        return float(self.offsets_s[-1])
