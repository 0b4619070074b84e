"""HdrHistogram percentiles against numpy's nearest-rank percentiles on the same samples."""

from __future__ import annotations

import numpy as np
import pytest

from loadtest.latency_histogram import LatencyHistogram

# 3 significant digits: any value is stored within 1/1024 relative (plus the 1 µs unit).
REL_TOL = 1 / 1024


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n", [7, 100, 1500])
def test_percentiles_match_numpy_nearest_rank(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    values_s = rng.lognormal(mean=-2.0, sigma=1.0, size=n)  # ~0.1 s with a long tail
    hist = LatencyHistogram(values_s)
    values_us = np.round(values_s * 1e6)
    for p in (1, 10, 50, 90, 95, 99, 99.9, 100):
        expected_ms = np.percentile(values_us, p, method="inverted_cdf") / 1000.0
        got = hist.percentile_ms(p)
        assert got is not None
        assert abs(got - expected_ms) <= expected_ms * REL_TOL + 1e-3, (p, got, expected_ms)
    assert hist.count == n


def test_tiny_sample_is_nearest_rank_not_interpolated() -> None:
    hist = LatencyHistogram([0.001, 0.002, 0.003, 0.1])
    assert hist.percentile_ms(50) == pytest.approx(2.0, rel=REL_TOL)  # numpy's linear default says 2.5


def test_summary_counts_and_flags_small_p99() -> None:
    small = LatencyHistogram([0.01] * 999).summary()
    big = LatencyHistogram([0.01] * 1000).summary()
    assert small["count"] == 999 and small["p99_is_indicative"]
    assert big["count"] == 1000 and not big["p99_is_indicative"]
    assert big["p50"] == pytest.approx(10.0, rel=REL_TOL)
    assert LatencyHistogram().summary() == {"count": 0}
    assert LatencyHistogram().percentile_ms(99) is None


def test_out_of_range_values_are_clamped() -> None:
    hist = LatencyHistogram([-0.5, 1e9])
    assert hist.percentile_ms(0) == pytest.approx(0.001)
    assert hist.percentile_ms(100) == pytest.approx(3_600_000.0, rel=REL_TOL)
