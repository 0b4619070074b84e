"""The arrival schedule against the Poisson (and gamma) reference: gaps, counts, seeds, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loadtest.arrival_schedule import ArrivalSchedule, ScheduleConfig


def ks_exponential(gaps: np.ndarray, rate: float) -> float:
    """Kolmogorov-Smirnov distance between the gaps' empirical CDF and Exp(rate)."""
    xs = np.sort(gaps)
    n = len(xs)
    cdf = 1.0 - np.exp(-rate * xs)
    upper = np.arange(1, n + 1) / n - cdf
    lower = cdf - np.arange(0, n) / n
    return float(max(upper.max(), lower.max()))


@pytest.mark.parametrize("is_rate_exact", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_poisson_gaps_are_exponential(seed: int, is_rate_exact: bool) -> None:
    rate, n = 4.0, 5000
    offsets = ArrivalSchedule(ScheduleConfig(rate, n, seed=seed, is_rate_exact=is_rate_exact)).offsets_s
    gaps = np.diff(offsets)
    # 1% critical value of the one-sample KS statistic is 1.63/sqrt(n).
    assert ks_exponential(gaps, rate) < 1.63 / math.sqrt(len(gaps))
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.05)


def test_poisson_counts_per_second_have_variance_equal_to_mean() -> None:
    rate = 10.0
    offsets = ArrivalSchedule(ScheduleConfig(rate, 20_000, seed=3)).offsets_s
    counts = np.bincount(offsets.astype(int))[:-1]  # whole seconds only
    assert counts.mean() == pytest.approx(rate, rel=0.03)
    assert counts.var() / counts.mean() == pytest.approx(1.0, abs=0.1)  # index of dispersion of a Poisson


def test_gamma_keeps_the_rate_and_sets_the_burstiness() -> None:
    for b in (0.25, 4.0):
        gaps = np.diff(ArrivalSchedule(ScheduleConfig(2.0, 20_000, "gamma", burstiness=b, seed=5)).offsets_s)
        assert gaps.mean() == pytest.approx(0.5, rel=0.05)
        assert gaps.var() / gaps.mean() ** 2 == pytest.approx(1 / b, rel=0.1)  # CV^2 of Gamma(b) is 1/b


def test_constant_and_starts_at_zero() -> None:
    offsets = ArrivalSchedule(ScheduleConfig(4.0, 5, "constant")).offsets_s
    np.testing.assert_allclose(offsets, [0.0, 0.25, 0.5, 0.75, 1.0])


def test_same_seed_same_schedule_and_monotone() -> None:
    a = ArrivalSchedule(ScheduleConfig(1.0, 100, seed=9)).offsets_s
    b = ArrivalSchedule(ScheduleConfig(1.0, 100, seed=9)).offsets_s
    c = ArrivalSchedule(ScheduleConfig(1.0, 100, seed=10)).offsets_s
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.all(np.diff(a) >= 0) and a[0] == 0.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rate": 0.0, "num_requests": 1},
        {"rate": math.inf, "num_requests": 1},
        {"rate": 1.0, "num_requests": 0},
        {"rate": 1.0, "num_requests": 1, "arrival": "uniform"},
        {"rate": 1.0, "num_requests": 1, "burstiness": 0.0},
    ],
)
def test_bad_config_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        ScheduleConfig(**kwargs)


def test_exact_rate_fixes_the_mean_gap_only() -> None:
    pure = ArrivalSchedule(ScheduleConfig(2.0, 43, seed=0, is_rate_exact=False)).offsets_s
    exact = ArrivalSchedule(ScheduleConfig(2.0, 43, seed=0)).offsets_s
    assert exact[-1] == pytest.approx(42 / 2.0)
    assert abs(pure[-1] - 21.0) > 1.0  # this seed's pure draw is visibly off the offered rate
    np.testing.assert_allclose(np.diff(exact) / np.diff(pure), exact[-1] / pure[-1])  # same shape, rescaled
