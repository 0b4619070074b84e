"""The Scorer interface every engine implements: one member prefix against k candidate suffixes."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class ScoreBatch:
    """What an engine scores: k prompts sharing `prefix_ids`; the label ids' log-probs are read at the end.

    `member_key` lets replica routers keep a member on one engine (so its prefix stays cached); `deadline`
    is a time.monotonic() instant after which the result is useless to the caller. `normalise_over="labels"`
    lets an engine normalise the label log-probs over the label ids alone, skipping the full-vocabulary
    log-sum-exp (the LM head's whole weight, read for k rows): a score uses only the difference between two
    labels, which is the same either way.
    """

    prefix_ids: tuple[int, ...]
    suffix_ids: tuple[tuple[int, ...], ...]
    label_ids: tuple[int, ...]
    member_key: str = ""
    deadline: float | None = None
    normalise_over: Literal["vocabulary", "labels"] = "vocabulary"

    @property
    def num_candidates(self) -> int:
        return len(self.suffix_ids)

    @property
    def prompt_tokens(self) -> int:
        return sum(len(self.prefix_ids) + len(s) for s in self.suffix_ids)

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()


@dataclass(frozen=True)
class ScoreResult:
    """Per candidate, the log-probs of each label id (in `label_ids` order), plus usage: normalised over the full
    vocabulary, or over the label ids when the batch asked for `normalise_over="labels"` and the engine does that
    (the embedded one; remote engines always return vocabulary log-probs).

    `prompt_tokens` counts all k prompts in full; `cached_tokens` how many of those the engine did not
    compute because their KV was already cached (0 for an engine without a prefix cache).
    """

    label_logprobs: tuple[tuple[float, ...], ...]
    prompt_tokens: int
    cached_tokens: int
    engine: str = ""


@dataclass(frozen=True)
class MetricSample:
    """One engine metric at scrape time; the service exports it as `slmrank_engine_<name>`.

    Counters end in `_total`. A histogram gives cumulative `buckets` ((upper_bound, count), ..., ending with
    +inf) and `value` is its sum. Engines keep plain numbers, so ranking needs no metrics library.
    """

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    value: float
    help: str
    labels: tuple[tuple[str, str], ...] = ()
    buckets: tuple[tuple[float, float], ...] = field(default=())


class ScorerError(Exception):
    """An engine could not score a batch; the message is safe for logs (no prompt content)."""


class ScorerOverloadedError(ScorerError):
    """The engine's queue is full: shed load (HTTP 503) rather than queue past every deadline."""


class ScorerTimeoutError(ScorerError):
    """The batch's deadline passed before its scores were ready (HTTP 504)."""


class ScorerUnavailableError(ScorerError):
    """No engine can take the batch right now (not loaded, all replicas down) (HTTP 503)."""


class Scorer(ABC):
    """An engine: embedded PyTorch, SGLang over HTTP, vLLM over HTTP, or a router over replicas."""

    name: str = "scorer"

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Load, connect and warm up; after it returns the scorer is ready."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release models, threads and connections."""

    @abstractmethod
    async def score(self, batch: ScoreBatch) -> ScoreResult:
        """Score every candidate of the batch; raises a ScorerError subclass on failure."""

    def is_ready(self) -> bool:
        """True once start() finished and the scorer can take traffic."""
        return True

    def metrics(self) -> list[MetricSample]:
        """Engine metrics for /metrics (cache hits, queue depth, per-replica counts...); none by default."""
        return []
