"""Latency percentiles from an HdrHistogram in microseconds, always reported with their sample count.

Percentile p is the sample at nearest rank ceil(p/100 * N), as stored by HdrHistogram at 3 significant
digits (the highest value equivalent to it, within 0.1 %): a value that was really observed, never one
interpolated between two samples the way numpy's default does. A P99 from fewer than 1,000 samples rests on fewer than
ten requests beyond it and is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from hdrh.histogram import HdrHistogram

MAX_US = 3_600_000_000  # one hour
SIGNIFICANT_DIGITS = 3
PERCENTILES = (50.0, 90.0, 95.0, 99.0, 99.9)
MIN_SAMPLES_FOR_P99 = 1000


class LatencyHistogram:
    """Records latencies in seconds; answers percentiles in milliseconds."""

    def __init__(self, values_s: Iterable[float] = ()) -> None:
        self._hist = HdrHistogram(1, MAX_US, SIGNIFICANT_DIGITS)
        for value in values_s:
            self.record(value)

    def record(self, value_s: float) -> None:
        """Add one latency; negative clock noise counts as 1 µs, beyond an hour as an hour."""
        self._hist.record_value(min(MAX_US, max(1, round(value_s * 1e6))))

    @property
    def count(self) -> int:
        return int(self._hist.get_total_count())

    def percentile_ms(self, percentile: float) -> float | None:
        """The latency at `percentile` (0-100) in ms, or None without samples."""
        if self.count == 0:
            return None
        # hdrh rounds the rank (int(p*N/100 + 0.5)), which for small N can pick the sample below the tail;
        # ask it for the textbook nearest rank ceil(p*N/100) instead, by aiming a quarter-rank below it.
        rank = max(1, math.ceil(percentile * self.count / 100.0 - 1e-9))
        return self._hist.get_value_at_percentile(100.0 * (rank - 0.25) / self.count) / 1000.0

    def summary(self) -> dict[str, Any]:
        """count, mean, max and the standard percentiles (ms); `p99_is_indicative` when N < 1,000."""
        if self.count == 0:
            return {"count": 0}
        out: dict[str, Any] = {"count": self.count}
        for p in PERCENTILES:
            out[percentile_key(p)] = self.percentile_ms(p)
        out["mean"] = self._hist.get_mean_value() / 1000.0
        out["max"] = self._hist.get_max_value() / 1000.0
        out["p99_is_indicative"] = self.count < MIN_SAMPLES_FOR_P99
        return out


def percentile_key(percentile: float) -> str:
    """`p50`, `p99`, `p99.9`."""
    return f"p{percentile:g}"
