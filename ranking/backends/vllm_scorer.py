"""vLLM over HTTP (OpenAI-compatible server): `/v1/completions` with token-id prompts (default).

`/v1/completions` takes the k prompts as lists of token ids in one request, `max_tokens: 1`, and the
label ids in `logprob_token_ids` (a vLLM extension; on `/v1/completions` from vLLM 0.26.0): `top_logprobs[0]`
then holds the sampled token plus each label, keyed `token_id:<id>` with `return_tokens_as_token_ids`. Older
servers drop the unknown field without a word and return only the top tokens; an answer without a requested
label's log-prob is therefore refused with a message naming the minimum version. vLLM's default
`logprobs_mode=raw_logprobs` makes these full-vocabulary log_softmax values, as the embedded engine's.

`/generative_scoring` returns the probability of the *first* label only (full-vocabulary with
`apply_softmax: false`), so both labels cost one request each; it is offered, not the default.

Cached tokens: in a multi-prompt request vLLM's `usage.prompt_tokens_details.cached_tokens` is the last
prompt's count, not the sum. With `is_split_prompts` each prompt goes as its own request (exact counts,
more HTTP overhead); otherwise the reported count is last prompt's count x k, an estimate that holds
because all k prompts share the prefix that the cache serves.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from ranking.backends.engine_client import EngineClientConfig, EngineProtocolError
from ranking.backends.remote_scorer import PrefixWarmup, RemoteScorer, logprob_of
from ranking.scorer import ScoreBatch, ScoreResult

log = logging.getLogger(__name__)

MIN_VLLM_FOR_LOGPROB_TOKEN_IDS = "0.26.0"


class VLLMVersionError(EngineProtocolError):
    """The server ignored `logprob_token_ids`: it is older than the version that reads it on /v1/completions."""


class VLLMApi(StrEnum):
    COMPLETIONS = "completions"
    GENERATIVE_SCORING = "generative_scoring"


@dataclass(frozen=True)
class VLLMConfig:
    """Endpoint, warm-up policy, the served model name, and one-request-per-prompt mode."""

    api: VLLMApi = field(
        default=VLLMApi.COMPLETIONS,
        metadata={
            "help": "completions (logprob_token_ids, vLLM >= 0.26.0) or generative_scoring (a request per label)."
        },
    )
    warmup: PrefixWarmup = field(
        default=PrefixWarmup.NEVER,
        metadata={"help": "Send the member prefix alone first: never, new prefixes, always."},
    )
    model_name: str | None = field(
        default=None, metadata={"help": "Served model name sent as `model`; unset: the server's only model."}
    )
    is_split_prompts: bool = field(
        default=False, metadata={"help": "One request per prompt: exact cached-token counts, more HTTP overhead."}
    )


class VLLMScorer(RemoteScorer):
    """One vLLM replica."""

    name = "vllm"
    health_path = "/health"

    def __init__(self, url: str, config: VLLMConfig | None = None, client_config: EngineClientConfig | None = None):
        self.config = config or VLLMConfig()
        super().__init__(url, self.config.warmup, client_config)
        self._has_reported_version = False

    async def _score(self, batch: ScoreBatch, timeout_s: float) -> ScoreResult:
        try:
            return await self._score_any(batch, timeout_s)
        except VLLMVersionError as exc:
            if not self._has_reported_version:  # the router logs only the error's type; say why once
                log.error("%s", exc)
                self._has_reported_version = True
            raise

    def completions_body(self, prompts: list[list[int]], label_ids: tuple[int, ...]) -> dict[str, Any]:
        """The /v1/completions request scoring `prompts` (token-id lists)."""
        body: dict[str, Any] = {
            "prompt": prompts,
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": len(label_ids),
            "logprob_token_ids": list(label_ids),
            "return_tokens_as_token_ids": True,
        }
        if self.config.model_name:
            body["model"] = self.config.model_name
        return body

    async def _warm_prefix(self, batch: ScoreBatch, timeout_s: float) -> None:
        await self.client.post_json(
            "/v1/completions", self.completions_body([list(batch.prefix_ids)], batch.label_ids), timeout_s
        )

    async def _score_any(self, batch: ScoreBatch, timeout_s: float) -> ScoreResult:
        if self.config.api is VLLMApi.GENERATIVE_SCORING:
            return await self._score_generative(batch, timeout_s)
        prompts = [list(batch.prefix_ids) + list(s) for s in batch.suffix_ids]
        if not self.config.is_split_prompts:
            payload = await self.client.post_json(
                "/v1/completions", self.completions_body(prompts, batch.label_ids), timeout_s
            )
            return parse_completions(payload, batch, self.url, scale_cached=batch.num_candidates)
        parts = await asyncio.gather(
            *(
                self.client.post_json("/v1/completions", self.completions_body([p], batch.label_ids), timeout_s)
                for p in prompts
            )
        )
        results = [parse_completions(p, _one(batch, i), self.url) for i, p in enumerate(parts)]
        return ScoreResult(
            tuple(r.label_logprobs[0] for r in results),
            sum(r.prompt_tokens for r in results),
            sum(r.cached_tokens for r in results),
            self.name,
        )

    async def _score_generative(self, batch: ScoreBatch, timeout_s: float) -> ScoreResult:
        """One request per label, that label first: the endpoint scores only the first label."""
        labels = list(batch.label_ids)
        bodies = [
            {
                "query": list(batch.prefix_ids),
                "items": [list(s) for s in batch.suffix_ids],
                "label_token_ids": [label] + [x for x in labels if x != label],
                "apply_softmax": False,
                **({"model": self.config.model_name} if self.config.model_name else {}),
            }
            for label in labels
        ]
        payloads = await asyncio.gather(*(self.client.post_json("/generative_scoring", b, timeout_s) for b in bodies))
        columns = [parse_generative(p, batch.num_candidates, self.url) for p in payloads]
        rows = tuple(tuple(col[i] for col in columns) for i in range(batch.num_candidates))
        return ScoreResult(rows, batch.prompt_tokens, 0, self.name)


def _one(batch: ScoreBatch, i: int) -> ScoreBatch:
    return replace(batch, suffix_ids=(batch.suffix_ids[i],))


def parse_completions(payload: Any, batch: ScoreBatch, url: str, scale_cached: int = 1) -> ScoreResult:
    """Read a /v1/completions answer: one choice per prompt (by `index`), labels in `top_logprobs[0]`."""
    try:
        choices = sorted(payload["choices"], key=lambda c: int(c["index"]))
        if len(choices) != batch.num_candidates:
            raise EngineProtocolError(
                f"engine {url} returned {len(choices)} results for {batch.num_candidates} prompts"
            )
        rows = tuple(_label_row(c["logprobs"]["top_logprobs"][0], batch.label_ids, url) for c in choices)
        usage = payload.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or 0) * scale_cached
        prompt_tokens = int(usage.get("prompt_tokens") or batch.prompt_tokens)
    except (TypeError, KeyError, IndexError, ValueError):
        raise EngineProtocolError(f"engine {url} /v1/completions answer lacks label log-probs") from None
    return ScoreResult(rows, prompt_tokens, min(cached, prompt_tokens), "vllm")


def _label_row(top: dict[str, float], label_ids: tuple[int, ...], url: str) -> tuple[float, ...]:
    """`{"token_id:482": -1.2, ...}` -> log-probs in label order."""
    missing = [i for i in label_ids if f"token_id:{i}" not in top]
    if missing:
        raise VLLMVersionError(
            f"engine {url} returned no log-prob for label id(s) {missing}: the server ignored `logprob_token_ids`, "
            f"which /v1/completions reads from vLLM {MIN_VLLM_FOR_LOGPROB_TOKEN_IDS}; upgrade the engine "
            f"(or use the vllm api 'generative_scoring')"
        )
    return tuple(float(top[f"token_id:{i}"]) for i in label_ids)


def parse_generative(payload: Any, num_items: int, url: str) -> list[float]:
    """Read a /generative_scoring answer: `data[i].score` = P(first label | prompt i), full vocabulary."""
    try:
        data = sorted(payload["data"], key=lambda d: int(d["index"]))
        scores = [logprob_of(float(d["score"])) for d in data]
    except (TypeError, KeyError, ValueError):
        raise EngineProtocolError(f"engine {url} /generative_scoring answer has no usable scores") from None
    if len(scores) != num_items:
        raise EngineProtocolError(f"engine {url} returned {len(scores)} results for {num_items} prompts")
    return scores
