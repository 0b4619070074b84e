"""SGLang over HTTP: native `/generate` with token ids (default) or `/v1/score`.

`/generate` sends the k full prompts (prefix + suffix ids) in one call with `token_ids_logprob` set to
the label ids and `logprob_start_len: -1` (any value >= 0 caps radix-cache reuse at that position), and
reads `meta_info.output_token_ids_logprobs[0]`: with temperature 0 these are log_softmax of the logits,
i.e. full-vocabulary log-probs. It also returns `cached_tokens` per prompt, which /rank reports.
`/v1/score` sends the prefix once plus k suffixes (a much smaller body) and returns full-vocabulary
probabilities with `apply_softmax: false`, but no cached-token count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ranking.backends.engine_client import EngineClientConfig, EngineProtocolError
from ranking.backends.remote_scorer import PrefixWarmup, RemoteScorer, logprob_of
from ranking.scorer import ScoreBatch, ScoreResult


class SGLangApi(StrEnum):
    GENERATE = "generate"
    SCORE = "score"


@dataclass(frozen=True)
class SGLangConfig:
    """Which endpoint to use, and whether the server accepts prefill-only (`max_new_tokens: 0`) requests.

    Prefill-only requests skip the decode step (SGLang PR #8840, 2025-08); older servers (0.4.x) need 1.
    """

    api: SGLangApi = field(
        default=SGLangApi.GENERATE, metadata={"help": "generate (token ids, cached-token counts) or score (/v1/score)."}
    )
    is_prefill_only: bool = field(
        default=True, metadata={"help": "max_new_tokens 0 (SGLang >= 0.5, PR #8840); false for 0.4.x servers."}
    )
    warmup: PrefixWarmup = field(
        default=PrefixWarmup.NEW, metadata={"help": "Send the member prefix alone first: never, new prefixes, always."}
    )
    model_name: str | None = field(
        default=None, metadata={"help": "`model` of /v1/score requests; unset: the card's model name."}
    )


class SGLangScorer(RemoteScorer):
    """One SGLang replica."""

    name = "sglang"
    health_path = "/health_generate"

    def __init__(self, url: str, config: SGLangConfig | None = None, client_config: EngineClientConfig | None = None):
        self.config = config or SGLangConfig()
        super().__init__(url, self.config.warmup, client_config)

    def _sampling(self) -> dict[str, Any]:
        return {"max_new_tokens": 0 if self.config.is_prefill_only else 1, "temperature": 0.0}

    def generate_body(self, input_ids: list[list[int]], label_ids: tuple[int, ...]) -> dict[str, Any]:
        """The /generate request for a batch of token-id prompts."""
        return {
            "input_ids": input_ids,
            "sampling_params": self._sampling(),
            "return_logprob": True,
            "token_ids_logprob": list(label_ids),
            "logprob_start_len": -1,
        }

    async def _warm_prefix(self, batch: ScoreBatch, timeout_s: float) -> None:
        body = self.generate_body([list(batch.prefix_ids)], batch.label_ids)
        await self.client.post_json("/generate", body, timeout_s)

    async def _score(self, batch: ScoreBatch, timeout_s: float) -> ScoreResult:
        if self.config.api is SGLangApi.SCORE:
            return await self._score_v1(batch, timeout_s)
        prompts = [list(batch.prefix_ids) + list(s) for s in batch.suffix_ids]
        payload = await self.client.post_json("/generate", self.generate_body(prompts, batch.label_ids), timeout_s)
        return parse_generate(payload, batch, self.url)

    async def _score_v1(self, batch: ScoreBatch, timeout_s: float) -> ScoreResult:
        body = {
            "model": self.config.model_name or "default",
            "query": list(batch.prefix_ids),
            "items": [list(s) for s in batch.suffix_ids],
            "label_token_ids": list(batch.label_ids),
            "apply_softmax": False,  # full-vocabulary probabilities, not a softmax over the labels only
        }
        payload = await self.client.post_json("/v1/score", body, timeout_s)
        return parse_score(payload, batch, self.url)


def _label_row(entries: Any, label_ids: tuple[int, ...], url: str) -> tuple[float, ...]:
    """`[[logprob, token_id, text], ...]` -> log-probs in label order."""
    try:
        by_id = {int(e[1]): float(e[0]) for e in entries}
        return tuple(by_id[i] for i in label_ids)
    except (TypeError, ValueError, KeyError, IndexError):
        raise EngineProtocolError(f"engine {url} returned no log-prob for a label id") from None


def parse_generate(payload: Any, batch: ScoreBatch, url: str) -> ScoreResult:
    """Read a /generate answer (a list, one object per prompt, in input order)."""
    items = payload if isinstance(payload, list) else [payload]
    if len(items) != batch.num_candidates:
        raise EngineProtocolError(f"engine {url} returned {len(items)} results for {batch.num_candidates} prompts")
    rows, prompt_tokens, cached_tokens = [], 0, 0
    for item in items:
        try:
            meta = item["meta_info"]
            rows.append(_label_row(meta["output_token_ids_logprobs"][0], batch.label_ids, url))
            prompt_tokens += int(meta.get("prompt_tokens", 0))
            cached_tokens += int(meta.get("cached_tokens", 0))
        except (TypeError, KeyError, IndexError, ValueError):
            raise EngineProtocolError(f"engine {url} /generate answer lacks meta_info log-probs") from None
    return ScoreResult(tuple(rows), prompt_tokens or batch.prompt_tokens, cached_tokens, "sglang")


def parse_score(payload: Any, batch: ScoreBatch, url: str) -> ScoreResult:
    """Read a /v1/score answer: `scores[i][j]` is P(label j | prompt i) over the full vocabulary."""
    try:
        scores = payload["scores"]
        rows = tuple(tuple(logprob_of(float(p)) for p in row) for row in scores)
        usage = payload.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens") or batch.prompt_tokens)
    except (TypeError, KeyError, ValueError):
        raise EngineProtocolError(f"engine {url} /v1/score answer has no usable scores") from None
    return ScoreResult(rows, prompt_tokens, 0, "sglang")
