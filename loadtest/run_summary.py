"""The numbers of one run: latency percentiles with counts, throughput, goodput at an SLO, cache, errors.

Warm-up requests are left out of everything. Throughput is over the measured window: from the first measured
request's scheduled time to the last measured response.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loadtest.latency_histogram import LatencyHistogram
from loadtest.request_record import RequestRecord


@dataclass(frozen=True)
class RunSummary:
    """A JSON-ready summary (`data`) plus the measured records it was made from."""

    data: dict[str, Any]
    records: tuple[RequestRecord, ...]

    @classmethod
    def from_records(
        cls, records: Sequence[RequestRecord], slo_ms: float, meta: dict[str, Any] | None = None
    ) -> RunSummary:
        """Summarise the non-warm-up records; `meta` (config, labels) is copied in front."""
        measured = tuple(r for r in records if not r.is_warmup)
        ok = [r for r in measured if r.is_ok]
        data: dict[str, Any] = dict(meta or {})
        data["requests"] = _counts(measured, ok)
        data["ttft_ms"] = LatencyHistogram(r.latency_s for r in ok).summary()
        data["service_ms"] = LatencyHistogram(r.service_s for r in ok).summary()
        data["client_queue_ms"] = LatencyHistogram(r.queue_s for r in measured).summary()
        engine = [r.engine_ms / 1000.0 for r in ok if r.engine_ms is not None]
        data["engine_ms"] = LatencyHistogram(engine).summary() if engine else None
        data["by_member"] = {
            "repeat": LatencyHistogram(r.latency_s for r in ok if r.is_repeat).summary(),
            "new": LatencyHistogram(r.latency_s for r in ok if not r.is_repeat).summary(),
        }
        data["throughput"] = _throughput(measured, ok, slo_ms)
        data["tokens"] = _tokens(ok)
        data["errors"] = dict(Counter(r.error or "unknown" for r in measured if not r.is_ok).most_common())
        return cls(data, measured)

    def latencies_ms(self) -> list[float]:
        """TTFT of every successful measured request, in ms (for CDF plots)."""
        return sorted(1000.0 * r.latency_s for r in self.records if r.is_ok)


def _counts(measured: Sequence[RequestRecord], ok: Sequence[RequestRecord]) -> dict[str, int]:
    return {
        "measured": len(measured),
        "ok": len(ok),
        "failed": len(measured) - len(ok),
        "repeat_members": sum(r.is_repeat for r in measured),
        "new_members": sum(not r.is_repeat for r in measured),
    }


def _throughput(
    measured: Sequence[RequestRecord], ok: Sequence[RequestRecord], slo_ms: float
) -> dict[str, float | None]:
    """Members, candidates and prompt tokens per second; goodput = requests within the SLO per second."""
    if not measured or not ok:
        return {
            "window_s": None,
            "members_per_s": 0.0,
            "candidates_per_s": 0.0,
            "prompt_tokens_per_s": None,
            "goodput_per_s": 0.0,
            "slo_ms": slo_ms,
            "slo_attainment": 0.0,
            "sent_per_s": None,
        }
    window = max(r.done_s for r in measured) - min(r.scheduled_s for r in measured)
    window = max(window, 1e-9)
    sends = [r.sent_s for r in measured]
    send_span = max(sends) - min(sends)
    num_good = sum(1000.0 * r.latency_s <= slo_ms for r in ok)
    prompt_tokens = [r.prompt_tokens for r in ok]
    return {
        "window_s": window,
        "sent_per_s": (len(sends) - 1) / send_span if send_span > 0 else None,
        "members_per_s": len(ok) / window,
        "candidates_per_s": sum(r.num_candidates for r in ok) / window,
        "prompt_tokens_per_s": (
            sum(t for t in prompt_tokens if t is not None) / window if None not in prompt_tokens else None
        ),
        "slo_ms": slo_ms,
        "goodput_per_s": num_good / window,
        "slo_attainment": num_good / len(measured),
    }


def _tokens(ok: Sequence[RequestRecord]) -> dict[str, float | None]:
    """Mean prompt and cached tokens per request as the server reported them, and the cached share."""
    prompt = [r.prompt_tokens for r in ok if r.prompt_tokens is not None]
    cached = [r.cached_tokens for r in ok if r.cached_tokens is not None]
    # The gateway counts all k prompts in full, so one prompt (prefix + one candidate) is the total over k.
    per_prompt = [r.prompt_tokens / r.num_candidates for r in ok if r.prompt_tokens is not None]
    return {
        "prompt_per_request": sum(prompt) / len(prompt) if prompt else None,
        "context_per_prompt": sum(per_prompt) / len(per_prompt) if per_prompt else None,
        "cached_per_request": sum(cached) / len(cached) if cached else None,
        "cached_fraction": sum(cached) / sum(prompt) if prompt and cached and sum(prompt) else None,
    }
