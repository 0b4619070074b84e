"""An SGLang server directly: native `POST /generate` with the k prompts as a text batch, one new token each.

Text prompts (not input_ids) keep the client free of a tokenizer; see prompt_text.py for how close they are
to the gateway's prompts. The member prefix is the same string in all k, so SGLang's radix cache shares it.
"""

from __future__ import annotations

from typing import Any

from loadtest.target import BadResponseError, Outcome, Target, optional_int
from loadtest.workload import WorkItem


class SGLangTarget(Target):
    """Prompt and cached tokens from each `meta_info`; engine time is the slowest prompt's `e2e_latency`."""

    name = "sglang-generate"
    path = "/generate"

    def body(self, item: WorkItem) -> dict[str, Any]:
        return {
            "text": item.prompt_texts(),
            "sampling_params": {"max_new_tokens": 1, "temperature": 0.0},
        }

    def parse(self, payload: Any, num_candidates: int) -> Outcome:
        outputs = payload if isinstance(payload, list) else [payload]
        if len(outputs) != num_candidates:
            raise BadResponseError(f"expected {num_candidates} outputs, got {len(outputs)}")
        metas = [o["meta_info"] for o in outputs]
        latencies = [m["e2e_latency"] for m in metas if isinstance(m.get("e2e_latency"), int | float)]
        return Outcome(
            is_ok=True,
            status=200,
            prompt_tokens=_sum(optional_int(m.get("prompt_tokens")) for m in metas),
            cached_tokens=_sum(optional_int(m.get("cached_tokens")) for m in metas),
            engine_ms=1000.0 * max(latencies) if len(latencies) == len(metas) else None,
            model=self.model,
        )


def _sum(values: Any) -> int | None:
    """The sum, or None when any value is missing."""
    items = list(values)
    return None if any(v is None for v in items) else sum(items)
