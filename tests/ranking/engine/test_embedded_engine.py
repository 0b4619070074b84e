"""EmbeddedEngine against the plain transformers reference: cache on/off, k, order, co-batching, eviction,
deadlines, queue limits, metrics."""

from __future__ import annotations

import asyncio
import copy
import gc
import random
import threading
import time

import pytest
import torch

from ranking.engine.embedded_engine import EmbeddedEngine, EngineConfig
from ranking.model_loader import load_checkpoint
from ranking.scorer import ScoreBatch, ScorerError, ScorerOverloadedError, ScorerTimeoutError, ScorerUnavailableError
from tests.ranking.engine.conftest import TOLERANCE, random_ids
from tests.reference.engine_plain_scorer import plain_label_logprobs

LABELS = (5, 9)


def run(coro):
    return asyncio.run(coro)


async def started(loaded, **config) -> EmbeddedEngine:
    engine = EmbeddedEngine(loaded, EngineConfig(**config))
    await engine.start()
    return engine


def make_batch(rng: random.Random, vocab: int, prefix_len: int, suffix_lens, prefix=None) -> ScoreBatch:
    prefix_ids = prefix if prefix is not None else random_ids(rng, vocab, prefix_len)
    return ScoreBatch(prefix_ids, tuple(random_ids(rng, vocab, n) for n in suffix_lens), LABELS)


def assert_matches_reference(model, batch: ScoreBatch, result, dtype: str = "float32") -> None:
    expected = plain_label_logprobs(model, batch.prefix_ids, batch.suffix_ids, batch.label_ids)
    got = torch.tensor(result.label_logprobs)
    torch.testing.assert_close(got, expected, atol=TOLERANCE[dtype], rtol=0)


def metric(engine: EmbeddedEngine, name: str) -> float:
    return next(m.value for m in engine.metrics() if m.name == name)


def test_cached_and_uncached_scores_equal_the_reference(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        batch = make_batch(rng, vocab, 120, (4, 9, 1, 6))
        cached, plain = (
            await started(tiny_loaded, max_batch_tokens=50),
            await started(tiny_loaded, enable_prefix_cache=False),
        )
        first, repeat, uncached = await cached.score(batch), await cached.score(batch), await plain.score(batch)
        for result in (first, repeat, uncached):
            assert_matches_reference(tiny_loaded.model, batch, result)
            assert result.prompt_tokens == batch.prompt_tokens
        k, p = 4, 120
        assert first.cached_tokens == (k - 1) * p and repeat.cached_tokens == k * p
        assert uncached.cached_tokens == (k - 1) * p  # in-request sharing only
        assert metric(cached, "prefix_cache_hit_tokens_total") == p
        assert metric(cached, "prefix_cache_hit_ratio") == pytest.approx(0.5)
        assert metric(cached, "kv_cache_bytes_in_use") > 0 and metric(plain, "kv_cache_bytes_in_use") == 0
        await cached.close()
        await plain.close()

    run(go())


def test_partial_prefix_hit_extends_from_the_matched_node(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        engine = await started(tiny_loaded)
        shared = random_ids(rng, vocab, 40)
        a = make_batch(rng, vocab, 0, (3, 5), prefix=shared + random_ids(rng, vocab, 30))
        b = make_batch(rng, vocab, 0, (2, 7, 4), prefix=shared + random_ids(rng, vocab, 25))
        await engine.score(a)
        result = await engine.score(b)
        assert_matches_reference(tiny_loaded.model, b, result)
        assert result.cached_tokens == 2 * 65 + 40
        await engine.close()

    run(go())


def test_score_is_independent_of_k_and_position(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        engine = await started(tiny_loaded)
        prefix = random_ids(rng, vocab, 60)
        suffixes = [random_ids(rng, vocab, n) for n in (3, 8, 2, 5, 6, 1, 4, 7)]
        alone = {s: (await engine.score(ScoreBatch(prefix, (s,), LABELS))).label_logprobs[0] for s in suffixes}
        order = list(range(len(suffixes)))
        random.Random(0).shuffle(order)
        shuffled = tuple(suffixes[i] for i in order)
        together = await engine.score(ScoreBatch(prefix, shuffled, LABELS))
        for suffix, row in zip(shuffled, together.label_logprobs, strict=True):
            torch.testing.assert_close(
                torch.tensor(row), torch.tensor(alone[suffix]), atol=TOLERANCE["float32"], rtol=0
            )
        await engine.close()

    run(go())


def test_concurrent_requests_share_passes_and_match_the_reference(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        engine = await started(tiny_loaded, max_batch_tokens=400)
        batches = [
            make_batch(rng, vocab, rng.randint(10, 80), (rng.randint(1, 6),) * rng.randint(1, 5)) for _ in range(8)
        ]
        results = await asyncio.gather(*(engine.score(b) for b in batches))
        for batch, result in zip(batches, results, strict=True):
            assert_matches_reference(tiny_loaded.model, batch, result)
        assert metric(engine, "forward_passes_total") < len(batches)  # some passes were shared
        await engine.close()

    run(go())


@pytest.mark.parametrize("budget_tokens", [100, 10])
def test_tiny_kv_budget_evicts_and_scores_stay_right(tiny_loaded, rng, budget_tokens: int) -> None:
    """100 tokens: prefixes evict each other; 10 tokens: no chunk fits, every request keeps its KV private."""

    async def go():
        vocab = tiny_loaded.vocab_size
        per_token = 2 * 2 * 2 * 16 * 4  # layers * (k, v) * kv_heads * head_dim * fp32 bytes
        engine = await started(tiny_loaded, kv_cache_bytes=budget_tokens * per_token, max_batch_tokens=64)
        batches = [make_batch(rng, vocab, 70, (3, 4)) for _ in range(4)]
        for batch in batches + batches[::-1]:
            assert_matches_reference(tiny_loaded.model, batch, await engine.score(batch))
            assert metric(engine, "kv_cache_bytes_in_use") <= budget_tokens * per_token
        if budget_tokens == 100:
            assert metric(engine, "prefix_cache_evictions_total") > 0
        await engine.close()
        assert engine.cache is not None
        engine.cache.reset()  # every lock was released: the tree empties to the root
        assert engine.cache.bytes_in_use == 0

    run(go())


def test_empty_suffix_reads_the_prefix_end(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        engine = await started(tiny_loaded)
        batch = ScoreBatch(random_ids(rng, vocab, 20), ((), random_ids(rng, vocab, 3)), LABELS)
        assert_matches_reference(tiny_loaded.model, batch, await engine.score(batch))
        await engine.close()

    run(go())


class BlockedForward:
    """Failure injection: the worker's forward pass waits until released."""

    def __init__(self, engine: EmbeddedEngine) -> None:
        assert engine.runner is not None
        self.inner = engine.runner.forward
        self.release = threading.Event()
        self.entered = threading.Event()
        engine.runner.forward = self  # type: ignore[method-assign]

    def __call__(self, items):
        self.entered.set()
        self.release.wait(10)
        return self.inner(items)


def test_an_abandoned_request_is_dropped_without_an_unretrieved_future(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        loop_errors: list[dict] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
        engine = await started(tiny_loaded, max_batch_requests=1)
        blocked = BlockedForward(engine)
        first = asyncio.ensure_future(engine.score(make_batch(rng, vocab, 10, (2,))))
        await asyncio.to_thread(blocked.entered.wait, 10)
        late = make_batch(rng, vocab, 10, (2,))
        waiting = asyncio.ensure_future(
            engine.score(ScoreBatch(late.prefix_ids, late.suffix_ids, LABELS, deadline=time.monotonic() + 0.05))
        )
        await asyncio.sleep(0)
        queued = engine.scheduler.waiting[0]
        with pytest.raises(ScorerTimeoutError):
            await waiting
        assert queued.future.cancelled()  # the worker's late ScorerTimeoutError is discarded, not left unread
        blocked.release.set()
        await first
        await asyncio.sleep(0.05)
        del queued, waiting
        gc.collect()
        assert not [c for c in loop_errors if "never retrieved" in c.get("message", "")]
        await engine.close()

    run(go())


def test_queued_work_that_cannot_meet_its_deadline_is_dropped_not_computed(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        engine = await started(tiny_loaded, max_batch_requests=1)
        blocked = BlockedForward(engine)
        first = asyncio.ensure_future(engine.score(make_batch(rng, vocab, 10, (2,))))
        await asyncio.to_thread(blocked.entered.wait, 10)
        engine._step_s = 30.0  # as if one step took 30 s: a request due in 5 s cannot make it
        late = make_batch(rng, vocab, 10, (2,))
        hopeless = ScoreBatch(late.prefix_ids, late.suffix_ids, LABELS, deadline=time.monotonic() + 5)
        waiting = asyncio.ensure_future(engine.score(hopeless))
        await asyncio.sleep(0)
        passes = metric(engine, "forward_passes_total")
        blocked.release.set()
        await first
        started_at = time.monotonic()
        with pytest.raises(ScorerTimeoutError):
            await waiting
        assert time.monotonic() - started_at < 4  # answered at once, not at its deadline
        assert metric(engine, "dropped_requests_total") == 1
        assert metric(engine, "forward_passes_total") == passes + 1  # only `first` ran
        await engine.close()

    run(go())


def test_queue_full_and_deadlines(tiny_loaded, rng) -> None:
    async def go():
        vocab = tiny_loaded.vocab_size
        engine = await started(tiny_loaded, max_queue=1, max_batch_requests=1)
        blocked = BlockedForward(engine)
        first = asyncio.ensure_future(engine.score(make_batch(rng, vocab, 10, (2,))))
        await asyncio.to_thread(blocked.entered.wait, 10)
        late = make_batch(rng, vocab, 10, (2,))
        timed = ScoreBatch(late.prefix_ids, late.suffix_ids, LABELS, deadline=time.monotonic() + 0.05)
        waiting = asyncio.ensure_future(engine.score(timed))
        await asyncio.sleep(0)
        with pytest.raises(ScorerOverloadedError):
            await engine.score(make_batch(rng, vocab, 10, (2,)))
        with pytest.raises(ScorerTimeoutError):
            await waiting
        with pytest.raises(ScorerTimeoutError):
            await engine.score(ScoreBatch(late.prefix_ids, late.suffix_ids, LABELS, deadline=time.monotonic() - 1))
        blocked.release.set()
        assert len((await first).label_logprobs) == 1
        assert metric(engine, "timeouts_total") == 2 and metric(engine, "rejected_total") == 1
        await engine.close()
        with pytest.raises(ScorerUnavailableError):
            await engine.score(late)

    run(go())


def test_bad_input_is_refused(tiny_loaded) -> None:
    async def go():
        engine = await started(tiny_loaded)
        vocab = tiny_loaded.vocab_size
        with pytest.raises(ScorerError):
            await engine.score(ScoreBatch((1, 2), ((3,),), (vocab,)))
        with pytest.raises(ScorerError):
            await engine.score(ScoreBatch((1, vocab + 5), ((3,),), LABELS))
        assert (await engine.score(ScoreBatch((1, 2), (), LABELS))).label_logprobs == ()
        await engine.close()

    run(go())


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        EngineConfig(max_batch_tokens=0)
    with pytest.raises(ValueError):
        EngineConfig(attention_backend="triton")


def test_bfloat16_on_cpu_within_loose_tolerance(tiny_model_dir, rng) -> None:
    loaded = load_checkpoint(tiny_model_dir, device="cpu", dtype="bfloat16")

    async def go():
        engine = await started(loaded)
        batch = make_batch(rng, loaded.vocab_size, 80, (3, 5, 2))
        await engine.score(batch)
        result = await engine.score(batch)  # from the cache
        expected = plain_label_logprobs(loaded.model, batch.prefix_ids, batch.suffix_ids, LABELS).exp()
        torch.testing.assert_close(
            torch.tensor(result.label_logprobs).exp(), expected, atol=TOLERANCE["bfloat16"], rtol=0
        )
        await engine.close()

    run(go())


@pytest.mark.gpu
@pytest.mark.parametrize("backend", ["sdpa", "flashinfer"])
def test_cuda_bfloat16_matches_the_reference(tiny_model_dir, rng, backend: str) -> None:
    if backend == "flashinfer":
        pytest.importorskip("flashinfer")
    loaded = load_checkpoint(tiny_model_dir, device="cuda", dtype="bfloat16")

    async def go():
        engine = await started(loaded, attention_backend=backend)
        batch = make_batch(rng, loaded.vocab_size, 300, (3, 5, 2, 9))
        first, repeat = await engine.score(batch), await engine.score(batch)
        expected = plain_label_logprobs(loaded.model, batch.prefix_ids, batch.suffix_ids, LABELS).exp()
        for result in (first, repeat):
            got = torch.tensor(result.label_logprobs).exp()
            torch.testing.assert_close(got, expected, atol=TOLERANCE["bfloat16"], rtol=0)
        await engine.close()

    run(go())


def fp8_quantized_copy(loaded, use_scaled_mm: bool):
    """The tiny model with every decoder Linear as an FP8 W8A8 QuantizedLinear (per-channel weight scales)."""
    from ranking.quantized_linear import FP8_MAX, QuantArgs, QuantizedLinear

    model = copy.deepcopy(loaded.model)
    acts = QuantArgs(num_bits=8, type="float", strategy="token", dynamic=True)
    for name, module in list(model.model.layers.named_modules()):
        if isinstance(module, torch.nn.Linear):
            w = module.weight.detach().float()
            scale = w.abs().amax(dim=1, keepdim=True).clamp_min(1e-12) / FP8_MAX
            w8 = (w / scale).to(torch.float8_e4m3fn)
            fp8 = (w8, scale) if use_scaled_mm else None
            bias = None if module.bias is None else module.bias.detach()
            quantized = QuantizedLinear((w8.float() * scale).to(loaded.dtype), bias, acts, fp8)
            parent, _, child = name.rpartition(".")
            setattr(model.model.layers.get_submodule(parent), child, quantized)
    return type(loaded)(model, loaded.tokenizer, loaded.name, loaded.vocab_size, loaded.device, loaded.dtype)


def test_fp8_quantized_model_runs_through_the_engine(tiny_loaded, rng) -> None:
    """The runner calls the model's own Linear modules, so QuantizedLinear layers (ranking/quantized_linear.py)
    are used as they are: engine scores equal the plain forward of the same quantized model."""
    quantized = fp8_quantized_copy(tiny_loaded, use_scaled_mm=False)

    async def go():
        engine = await started(quantized)
        batch = make_batch(rng, quantized.vocab_size, 60, (3, 5, 2))
        for _ in range(2):
            assert_matches_reference(quantized.model, batch, await engine.score(batch))
        await engine.close()

    run(go())


@pytest.mark.gpu
def test_fp8_scaled_matmul_on_cuda(tiny_model_dir, rng) -> None:
    from ranking.quantized_linear import has_fp8_gemm

    loaded = load_checkpoint(tiny_model_dir, device="cuda", dtype="bfloat16")
    if not has_fp8_gemm(loaded.device):
        pytest.skip("GPU without FP8 GEMM (needs compute capability >= 8.9)")
    quantized = fp8_quantized_copy(loaded, use_scaled_mm=True)

    async def go():
        engine = await started(quantized)
        batch = make_batch(rng, quantized.vocab_size, 200, (3, 5, 2))
        result = await engine.score(batch)
        expected = plain_label_logprobs(quantized.model, batch.prefix_ids, batch.suffix_ids, LABELS).exp()
        got = torch.tensor(result.label_logprobs).exp()
        torch.testing.assert_close(got, expected, atol=TOLERANCE["bfloat16"], rtol=0)
        await engine.close()

    run(go())


def test_metrics_cover_the_contract(tiny_loaded, rng) -> None:
    async def go():
        engine = await started(tiny_loaded)
        await engine.score(make_batch(rng, tiny_loaded.vocab_size, 30, (2, 3)))
        samples = {m.name: m for m in engine.metrics()}
        for name in (
            "prefix_cache_hit_tokens_total",
            "prefix_cache_queried_tokens_total",
            "prefix_cache_hit_ratio",
            "prefix_cache_evictions_total",
            "kv_cache_bytes_in_use",
            "kv_cache_bytes_budget",
            "queue_depth",
            "forward_passes_total",
        ):
            assert name in samples
        sizes = samples["batch_size"]
        assert sizes.kind == "histogram" and sizes.buckets[-1] == (float("inf"), 1.0) and sizes.value == 2
        assert all(m.kind == "counter" for m in samples.values() if m.name.endswith("_total"))
        await engine.close()

    run(go())


def test_every_forward_pass_runs_on_the_worker_thread(tiny_loaded, rng, monkeypatch: pytest.MonkeyPatch) -> None:
    """One thread does the engine's tensor work (warm-up included): a second would start a second OpenMP team."""
    from ranking.engine.model_runner import ModelRunner

    threads: list[str] = []
    forward = ModelRunner.forward

    def recording(self, items):
        threads.append(threading.current_thread().name)
        return forward(self, items)

    monkeypatch.setattr(ModelRunner, "forward", recording)

    async def go():
        engine = await started(tiny_loaded, max_batch_tokens=40)
        batch = make_batch(rng, tiny_loaded.vocab_size, 90, (3, 5))
        assert_matches_reference(tiny_loaded.model, batch, await engine.score(batch))
        assert await engine.run_on_worker(threading.current_thread) is engine._worker
        await engine.close()

    run(go())
    assert len(threads) >= 4 and set(threads) == {"slmrank-engine"}  # warm-up, 3 prefix chunks, suffixes


def test_run_on_worker_hands_back_results_and_errors_and_a_failed_start_raises(tiny_loaded) -> None:
    async def go():
        engine = await started(tiny_loaded)
        assert await engine.run_on_worker(lambda: 6 * 7) == 42
        with pytest.raises(ZeroDivisionError):
            await engine.run_on_worker(lambda: 1 / 0)
        await engine.close()
        with pytest.raises(ScorerUnavailableError):
            await engine.run_on_worker(lambda: 1)
        with pytest.raises(ValueError, match="flashinfer"):  # built on the worker, raised to the caller
            await started(tiny_loaded, attention_backend="flashinfer")

    run(go())


def test_a_label_normalised_batch_gives_the_references_log_odds(tiny_loaded, rng) -> None:
    """What /rank asks for: log-probs over the labels alone, whose differences are the reference's."""
    from dataclasses import replace

    batch = make_batch(rng, tiny_loaded.vocab_size, 60, (4, 7, 2))

    async def go():
        engine = await started(tiny_loaded)
        result = await engine.score(replace(batch, normalise_over="labels"))
        await engine.close()
        return torch.tensor(result.label_logprobs)

    got = run(go())
    expected = plain_label_logprobs(tiny_loaded.model, batch.prefix_ids, batch.suffix_ids, batch.label_ids)
    torch.testing.assert_close(
        got[:, 0] - got[:, 1], expected[:, 0] - expected[:, 1], atol=TOLERANCE["float32"], rtol=0
    )
    torch.testing.assert_close(got.exp().sum(-1), torch.ones(3), atol=1e-6, rtol=0)
