"""The embedded engine: radix prefix KV cache, hot prefill, one-pass scoring of k candidates, batching.

A request's member prefix is looked up in the radix cache; only the uncached tail is computed (in chunks under
the token budget) and inserted, so the member's next request finds it. All k candidate suffixes then run in one
pass that reads the shared prefix KV once. Concurrent requests share forward passes: a worker thread runs steps
planned by the Scheduler; the event loop only queues work and awaits futures.

`ScoreResult.cached_tokens` counts prompt tokens not run through the model, summed over the k full prompts:
k * prefix_len - (prefix_len - hit_len), i.e. (k - 1) * prefix_len + hit_len, where hit_len is the prefix found
in the cache when the request started. A first-seen member thus reports (k - 1) * prefix_len (+ any shared
preamble already cached); a repeat member k * prefix_len. Suffix tokens are never cached.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ranking.engine.engine_metrics import EngineMetrics
from ranking.engine.host_memory import keep_freed_memory
from ranking.engine.model_runner import ForwardItem, ForwardOutput, ModelRunner
from ranking.engine.radix_cache import RadixCache
from ranking.engine.scheduler import QueueFullError, Scheduler, StepShare
from ranking.engine.score_request import ScoreRequest
from ranking.engine.worker_call import WorkerCall
from ranking.model_loader import LoadedModel
from ranking.scorer import (
    MetricSample,
    ScoreBatch,
    Scorer,
    ScorerError,
    ScoreResult,
    ScorerOverloadedError,
    ScorerTimeoutError,
    ScorerUnavailableError,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

ATTENTION_BACKENDS = ("auto", "sdpa", "sdpa_cascade", "flashinfer")


@dataclass(frozen=True)
class EngineConfig:
    """Cache, batching and attention settings of the embedded engine."""

    enable_prefix_cache: bool = True
    kv_cache_bytes: int = 512 * 1024 * 1024
    max_batch_tokens: int = 8192
    max_batch_requests: int = 32
    max_queue: int = 256
    attention_backend: str = "auto"
    keep_freed_memory: bool = True  # CPU: reuse freed activation buffers instead of page-faulting them anew

    def __post_init__(self) -> None:
        if self.kv_cache_bytes < 0:
            raise ValueError("EngineConfig.kv_cache_bytes must be >= 0")
        for name in ("max_batch_tokens", "max_batch_requests", "max_queue"):
            if getattr(self, name) < 1:
                raise ValueError(f"EngineConfig.{name} must be >= 1")
        if self.attention_backend not in ATTENTION_BACKENDS:
            raise ValueError(f"EngineConfig.attention_backend must be one of {ATTENTION_BACKENDS}")


class EmbeddedEngine(Scorer):
    """In-process scorer over a LoadedModel; forward passes run on one worker thread."""

    name = "embedded"

    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None) -> None:
        self.loaded = loaded
        self.config = config or EngineConfig()
        if self.config.keep_freed_memory and loaded.device.type == "cpu":
            keep_freed_memory()  # process-wide; before the worker thread exists and picks its malloc arena
        self.cache = RadixCache(self.config.kv_cache_bytes) if self.config.enable_prefix_cache else None
        self.scheduler: Scheduler[ScoreRequest] = Scheduler(
            self.config.max_queue, self.config.max_batch_tokens, self.config.max_batch_requests
        )
        self.stats = EngineMetrics()
        self.runner: ModelRunner | None = None
        self._cond = threading.Condition()
        self._worker: threading.Thread | None = None
        self._stopping = False
        self._calls: list[WorkerCall] = []  # run_on_worker's, run by the worker between steps
        self._step_s = 0.0  # moving average of one forward step: queued work that cannot finish in time is dropped
        self._ready = False

    async def start(self) -> None:
        """Start the worker thread, which builds the model runner and warms it with one real pass, then serves.

        Every tensor operation of the engine runs on that one thread. Each thread that runs a multi-threaded
        torch op gets its own OpenMP team, and once a process has more OpenMP threads than cores, libgomp cuts
        every team's spin-wait between ops to almost nothing: on 2 cores a repeat member's 4k-token pass took 95 ms
        instead of 79 ms (docs/engine.md, the AMX section). `run_on_worker` runs other work there.
        """
        loop = asyncio.get_running_loop()
        warm_up = WorkerCall(self._warm_up, loop, loop.create_future())
        self._stopping = False
        self._worker = threading.Thread(target=self._run, args=(warm_up,), name="slmrank-engine", daemon=True)
        self._worker.start()
        try:
            await warm_up.future
        except BaseException:  # the runner failed, or start was cancelled: the worker stops once warm-up returns
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            self._worker = None
            raise
        self._ready = True

    async def run_on_worker(self, fn: Callable[[], T]) -> T:
        """fn() on the engine's worker thread between forward steps (so it starts no second OpenMP team)."""
        if self._worker is None:
            raise ScorerUnavailableError("embedded engine is not started")
        loop = asyncio.get_running_loop()
        call = WorkerCall(fn, loop, loop.create_future())
        with self._cond:
            self._calls.append(call)
            self._cond.notify()
        result: T = await call.future
        return result

    def _warm_up(self) -> None:
        self.runner = ModelRunner(self.loaded, self.config.attention_backend)
        bos = self.loaded.tokenizer.bos_token_id or 0
        self.runner.forward([ForwardItem([], [bos, bos], [[bos]], [0])])

    async def close(self) -> None:
        """Stop the worker after its current step; queued requests fail as unavailable."""
        self._ready = False
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker is not None:
            await asyncio.to_thread(self._worker.join)
            self._worker = None
        with self._cond:
            for request in self.scheduler.remove_if(lambda r: True):
                self._release(request)
                request.resolve(ScorerUnavailableError("embedded engine closed"))
            calls, self._calls = self._calls, []
        for call in calls:
            call.resolve(ScorerUnavailableError("embedded engine closed"))

    def is_ready(self) -> bool:
        return self._ready

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        """Queue the batch and wait for its scores (or its deadline)."""
        if not self._ready:
            raise ScorerUnavailableError("embedded engine is not started")
        self._validate(batch)
        if not batch.suffix_ids:
            return ScoreResult((), 0, 0, self.name)
        left = batch.seconds_left()
        if left is not None and left <= 0:
            self.stats.timeouts += 1
            raise ScorerTimeoutError("deadline passed before scoring started")
        loop = asyncio.get_running_loop()
        request = ScoreRequest(batch, loop, loop.create_future())
        with self._cond:
            try:
                self.scheduler.submit(request)
            except QueueFullError:
                self.stats.rejected += 1
                raise ScorerOverloadedError("embedded engine queue is full") from None
            self._cond.notify()
        try:
            result: ScoreResult = await asyncio.wait_for(asyncio.shield(request.future), left)
        except TimeoutError:
            self._abandon(request)
            self.stats.timeouts += 1
            raise ScorerTimeoutError("deadline passed while scoring") from None
        except asyncio.CancelledError:
            self._abandon(request)  # the caller went away: stop spending steps on it
            raise
        return result

    @staticmethod
    def _abandon(request: ScoreRequest) -> None:
        """Nobody waits for this request: the worker drops it before its next step, and cancelling the future
        means the worker's late result or error is discarded instead of logged as never retrieved."""
        request.is_cancelled = True
        request.future.cancel()

    def metrics(self) -> list[MetricSample]:
        """Cache, batching and queue metrics (names without the service's prefix)."""
        cache = self.cache
        gauges = [
            MetricSample("queue_depth", "gauge", len(self.scheduler.waiting), "Requests waiting for a step."),
            MetricSample("running_requests", "gauge", len(self.scheduler.running), "Requests being computed."),
            MetricSample(
                "kv_cache_bytes_in_use", "gauge", cache.bytes_in_use if cache else 0, "Bytes of cached prefix KV."
            ),
            MetricSample("kv_cache_bytes_budget", "gauge", cache.budget_bytes if cache else 0, "KV byte budget."),
            MetricSample(
                "prefix_cache_evictions_total", "counter", cache.num_evictions if cache else 0, "Nodes evicted."
            ),
            MetricSample(
                "prefix_cache_evicted_bytes_total", "counter", cache.evicted_bytes if cache else 0, "Bytes evicted."
            ),
        ]
        return [*self.stats.counters(), *gauges, *self.stats.histograms()]

    def _validate(self, batch: ScoreBatch) -> None:
        vocab = self.loaded.vocab_size
        if not batch.label_ids or not all(0 <= t < vocab for t in batch.label_ids):
            raise ScorerError("label ids must be non-empty and inside the vocabulary")
        tokens = [*batch.prefix_ids, *(t for s in batch.suffix_ids for t in s)]
        if tokens and (min(tokens) < 0 or max(tokens) >= vocab):
            raise ScorerError("token ids outside the vocabulary")
        if batch.suffix_ids and not batch.prefix_ids and not all(batch.suffix_ids):
            raise ScorerError("a prompt is empty")

    def _run(self, warm_up: WorkerCall) -> None:
        """Worker thread: build and warm the runner; then run queued calls, plan a step, run it, hand out results;
        sleep while there is nothing to do."""
        if not warm_up.run():
            return
        while True:
            with self._cond:
                while not self._stopping and not (self.scheduler.waiting or self.scheduler.running or self._calls):
                    self._cond.wait()
                if self._stopping:
                    return
                calls, self._calls = self._calls, []
                self._drop_expired()
                shares = self.scheduler.schedule(self._admit)
            for call in calls:
                call.run()
            if shares:
                self._step(shares)

    def _drop_expired(self) -> None:
        """Drop cancelled and expired requests, and waiting ones whose deadline falls before one more step ends."""
        now = time.monotonic()
        waiting = {id(r) for r in self.scheduler.waiting}

        def is_hopeless(r: ScoreRequest) -> bool:
            return r.is_cancelled or r.is_expired(now + self._step_s if id(r) in waiting else now)

        for request in self.scheduler.remove_if(is_hopeless):
            self._release(request)
            if not request.is_cancelled:
                self.stats.dropped += 1
            request.resolve(ScorerTimeoutError("deadline cannot be met"))

    def _admit(self, request: ScoreRequest) -> None:
        """Look the prefix up and lock what matched (first time the request is scheduled)."""
        self.stats.prefix_queried_tokens += len(request.prefix_ids)
        if self.cache is None:
            return
        match = self.cache.match_prefix(request.prefix_ids)
        self.cache.inc_lock_ref(match.node)
        request.node, request.past = match.node, list(match.segments)  # type: ignore[arg-type]
        request.done_len = request.hit_len = request.cached_len = match.length
        self.stats.prefix_hit_tokens += match.length

    def _step(self, shares: list[StepShare[ScoreRequest]]) -> None:
        """One forward pass over every share, then cache new prefix KV and resolve finished requests."""
        items = [self._item(share) for share in shares]
        assert self.runner is not None
        started = time.monotonic()
        try:
            outputs = self.runner.forward(items)
        except Exception:
            logger.exception("embedded engine forward pass failed")
            with self._cond:
                for share in shares:
                    self._finish(share.request, ScorerError("forward pass failed"))
            return
        self.stats.forward_passes += 1
        self._step_s = 0.8 * self._step_s + 0.2 * (time.monotonic() - started)
        self.stats.batch_tokens.observe(sum(item.num_tokens for item in items))
        self.stats.batch_size.observe(sum(len(item.suffix_ids) for item in items))
        self.stats.batch_requests.observe(len(items))
        with self._cond:
            for share, output in zip(shares, outputs, strict=True):
                self._advance(share, output)

    @staticmethod
    def _item(share: StepShare[ScoreRequest]) -> ForwardItem:
        request = share.request
        new_ids = request.prefix_ids[request.done_len : request.done_len + share.num_prefix_tokens]
        suffixes = request.suffix_ids if share.has_suffixes else ()
        batch = request.batch
        return ForwardItem(
            list(request.past), new_ids, suffixes, batch.label_ids, is_label_normalised=batch.normalise_over == "labels"
        )

    def _advance(self, share: StepShare[ScoreRequest], output: ForwardOutput) -> None:
        request = share.request
        if output.prefix_kv is not None:
            request.past.append(output.prefix_kv)
            start = request.done_len
            request.done_len += share.num_prefix_tokens
            self._cache_chunk(request, start, output)
        if output.label_logprobs is not None:
            rows = tuple(tuple(float(x) for x in row) for row in output.label_logprobs.tolist())
            batch = request.batch
            cached = batch.prompt_tokens - request.computed_tokens
            self.stats.requests += 1
            self.stats.prompt_tokens += batch.prompt_tokens
            self.stats.cached_tokens += cached
            self.stats.computed_tokens += request.computed_tokens
            self._finish(request, ScoreResult(rows, batch.prompt_tokens, cached, self.name))

    def _cache_chunk(self, request: ScoreRequest, start: int, output: ForwardOutput) -> None:
        """Insert a freshly computed prefix chunk below the request's locked node, and move the lock down."""
        cache = self.cache
        if cache is None or request.node is None or request.cached_len != start or output.prefix_kv is None:
            return  # no cache, or an earlier chunk did not fit the budget: this request's KV stays private
        node = cache.insert(request.prefix_ids[: request.done_len], output.prefix_kv, start)
        cache.inc_lock_ref(node)
        cache.dec_lock_ref(request.node)
        request.node, request.cached_len = node, cache.depth(node)

    def _finish(self, request: ScoreRequest, value: ScoreResult | ScorerError) -> None:
        self.scheduler.finish(request)
        self._release(request)
        request.resolve(value)

    def _release(self, request: ScoreRequest) -> None:
        if self.cache is not None and request.node is not None:
            self.cache.dec_lock_ref(request.node)
            request.node = None
        request.past = []
