"""The slmrank gateway: `POST /rank` with a member and k candidates, all k scores in one response."""

from __future__ import annotations

from typing import Any

from loadtest.target import BadResponseError, Outcome, Target, optional_int
from loadtest.workload import WorkItem


class GatewayTarget(Target):
    """TTFT of a ranking request is its full latency: nothing is streamed, the k scores come back together."""

    name = "gateway"
    path = "/rank"

    def body(self, item: WorkItem) -> dict[str, Any]:
        """`/rank`'s body; with --model-name it names that served model, else the gateway's variant policy picks."""
        body = item.rank_body()
        if self.model:
            body["model"] = self.model
        return body

    def parse(self, payload: Any, num_candidates: int) -> Outcome:
        ranked = payload["ranked"]
        if len(ranked) != num_candidates or any("score" not in r for r in ranked):
            raise BadResponseError(f"expected {num_candidates} scores, got {len(ranked)}")
        usage = payload.get("usage") or {}
        timing = payload.get("timing_ms") or {}
        engine_ms = timing.get("engine")
        return Outcome(
            is_ok=True,
            status=200,
            prompt_tokens=optional_int(usage.get("prompt_tokens")),
            cached_tokens=optional_int(usage.get("cached_tokens")),
            engine_ms=float(engine_ms) if isinstance(engine_ms, int | float) else None,
            model=payload.get("model"),
        )
