"""Run summaries against hand-computed throughput, goodput, cache share and error counts."""

from __future__ import annotations

import pytest

from loadtest.request_record import RequestRecord
from loadtest.run_summary import RunSummary


def rec(i: int, scheduled: float, sent: float, done: float, ok: bool = True, **kw) -> RequestRecord:
    base = {"is_warmup": False, "is_repeat": False, "num_candidates": 4, "prompt_tokens": 400, "cached_tokens": 100}
    base.update(kw)
    return RequestRecord(index=i, scheduled_s=scheduled, sent_s=sent, done_s=done, is_ok=ok, **base)


def test_summary_numbers() -> None:
    records = [
        rec(0, 0.0, 0.0, 5.0, is_warmup=True),  # warm-up: left out of everything
        rec(1, 1.0, 1.0, 1.2),
        rec(2, 2.0, 2.5, 3.0, is_repeat=True),  # 0.5 s client queue, 1.0 s TTFT
        rec(3, 3.0, 3.0, 3.1, ok=False, error="http_503:overloaded", prompt_tokens=None),
        rec(4, 4.0, 4.0, 5.0, is_repeat=True),
    ]
    d = RunSummary.from_records(records, slo_ms=500.0, meta={"label": "x"}).data
    assert d["label"] == "x"
    assert d["requests"] == {"measured": 4, "ok": 3, "failed": 1, "repeat_members": 2, "new_members": 2}
    assert d["errors"] == {"http_503:overloaded": 1}
    assert d["ttft_ms"]["count"] == 3
    assert d["ttft_ms"]["p50"] == pytest.approx(1000.0, rel=1e-3)
    assert d["ttft_ms"]["max"] == pytest.approx(1000.0, rel=1e-3)
    assert d["service_ms"]["p50"] == pytest.approx(500.0, rel=1e-3)
    assert d["client_queue_ms"]["max"] == pytest.approx(500.0, rel=1e-3)
    assert d["by_member"]["repeat"]["count"] == 2 and d["by_member"]["new"]["count"] == 1
    tp = d["throughput"]
    assert tp["window_s"] == pytest.approx(4.0)  # first measured scheduled (1.0) to last done (5.0)
    assert tp["members_per_s"] == pytest.approx(3 / 4)
    assert tp["candidates_per_s"] == pytest.approx(12 / 4)
    assert tp["prompt_tokens_per_s"] == pytest.approx(1200 / 4)
    assert tp["goodput_per_s"] == pytest.approx(1 / 4)  # only request 1 (200 ms) is within 500 ms
    assert tp["slo_attainment"] == pytest.approx(1 / 4)
    assert tp["sent_per_s"] == pytest.approx(3 / 3.0)
    assert d["tokens"]["cached_fraction"] == pytest.approx(0.25)
    assert d["tokens"]["context_per_prompt"] == pytest.approx(100.0)


def test_all_failed_run_has_no_latencies() -> None:
    d = RunSummary.from_records([rec(0, 0.0, 0.0, 1.0, ok=False, error="timeout")], slo_ms=100.0).data
    assert d["ttft_ms"] == {"count": 0}
    assert d["throughput"]["members_per_s"] == 0.0
    assert d["errors"] == {"timeout": 1}
