"""Sweep mode against a fake server model whose tail grows with load: the best rate, stop and bisection."""

from __future__ import annotations

import asyncio

from loadtest.request_record import RequestRecord
from loadtest.run_summary import RunSummary
from loadtest.sweep import Sweep, SweepConfig


def fake_run(capacity: float):
    """Latency 100 ms below `capacity` members/s, 10 s above it."""
    tried: list[float] = []

    async def at_rate(rate: float) -> RunSummary:
        tried.append(rate)
        latency = 0.1 if rate <= capacity else 10.0
        records = [RequestRecord(i, False, False, 1, i / rate, i / rate, i / rate + latency, True) for i in range(50)]
        return RunSummary.from_records(records, 500.0, {"schedule": {"rate": rate}, "label": f"{rate}"})

    return at_rate, tried


def test_stops_after_first_failure_and_reports_best() -> None:
    at_rate, tried = fake_run(capacity=3.0)
    result = asyncio.run(Sweep(SweepConfig((1, 2, 4, 8), slo_ms=500.0), at_rate, lambda: False).run())
    assert tried == [1, 2, 4]
    assert result["best_rate"] == 2
    assert [r["meets_slo"] for r in result["runs"]] == [True, True, False]


def test_bisection_narrows_the_gap() -> None:
    at_rate, tried = fake_run(capacity=3.0)
    result = asyncio.run(Sweep(SweepConfig((1, 2, 4), slo_ms=500.0, refine_steps=2), at_rate, lambda: False).run())
    assert tried == [1, 2, 4, 3.0, 3.5]
    assert result["best_rate"] == 3.0
    assert [r["schedule"]["rate"] for r in result["runs"]] == [1, 2, 3.0, 3.5, 4]


def test_no_rate_meets_slo() -> None:
    at_rate, _ = fake_run(capacity=0.1)
    result = asyncio.run(Sweep(SweepConfig((1, 2), slo_ms=500.0, is_stop_on_fail=False), at_rate, lambda: False).run())
    assert result["best_rate"] is None and len(result["runs"]) == 2


def test_stop_request_ends_the_sweep() -> None:
    at_rate, tried = fake_run(capacity=100.0)
    asyncio.run(Sweep(SweepConfig((1, 2, 4), slo_ms=500.0), at_rate, lambda: len(tried) >= 1).run())
    assert tried == [1]
