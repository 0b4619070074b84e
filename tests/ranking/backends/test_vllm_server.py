"""The vLLM backend against a real vLLM CPU server: scores match the embedded engine, the cache works.

Tolerance: both sides compute in float32 on CPU; vLLM's CPU attention kernels sum in a different order,
so label log-probs agree to ~1e-5 (observed max 7e-6); we allow 1e-4.
"""

from __future__ import annotations

import asyncio
import random
import time

import pytest

from ranking.backends import RemoteBackendConfig, build_remote_scorer
from ranking.backends.vllm_scorer import VLLMApi, VLLMConfig, VLLMScorer
from ranking.card import ModelCard
from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig
from ranking.routing.routed_scorer import RoutedScorerConfig
from ranking.scorer import ScoreBatch
from tests.tiny_checkpoint import TASKS

pytestmark = pytest.mark.vllm
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def loaded(vllm_model_dir):
    import torch

    from ranking.model_loader import load_checkpoint

    torch.set_num_threads(1)
    return load_checkpoint(vllm_model_dir, device="cpu", dtype="float32")


def member_batch(loaded, seed: int, k: int = 6) -> ScoreBatch:
    """A real prompt: a member with a history through the project's prompt builder, like /rank builds."""
    from ranking.labels import resolve_label_tokens

    rng = random.Random(seed)
    titles = ["Heat (1995)", "Toy Story (1995)", "Fargo (1996)", "Alien (1979)", "Jaws (1975)", "Casino (1995)"]
    history = tuple(
        Interaction(f"{rng.choice(titles)} | Action|Crime", rng.choice(["liked", "disliked"]), 1_500_000_000 + i)
        for i in range(40)
    )
    member = Member(f"u{seed}", f"member {seed} likes thrillers", history)
    candidates = [Candidate(f"m{i}", f"{rng.choice(titles)} | Comedy") for i in range(k)]
    task = TASKS["like"]
    prompt = PromptBuilder(loaded.tokenizer, PromptConfig()).build(member, candidates, task)
    labels = resolve_label_tokens(loaded.tokenizer, task, loaded.vocab_size)
    return ScoreBatch(prompt.prefix_ids, prompt.suffix_ids, labels.ids, f"u{seed}", time.monotonic() + 60)


def embedded_scores(loaded, batch: ScoreBatch):
    from ranking.engine.embedded_engine import EmbeddedEngine

    async def go():
        engine = EmbeddedEngine(loaded)
        await engine.start()
        try:
            return await engine.score(batch)
        finally:
            await engine.close()

    return asyncio.run(go()).label_logprobs


def vllm_score(url: str, config: VLLMConfig, *batches: ScoreBatch):
    async def go():
        scorer = VLLMScorer(url, config)
        try:
            return [await scorer.score(b) for b in batches]
        finally:
            await scorer.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    "config",
    [VLLMConfig(), VLLMConfig(is_split_prompts=True), VLLMConfig(api=VLLMApi.GENERATIVE_SCORING)],
    ids=["completions", "split", "generative_scoring"],
)
def test_vllm_scores_match_the_embedded_engine(vllm_url, loaded, config):
    batch = member_batch(loaded, seed=1)
    want = embedded_scores(loaded, batch)
    (got,) = vllm_score(vllm_url, config, batch)
    assert len(got.label_logprobs) == len(want)
    for row, ref in zip(got.label_logprobs, want, strict=True):
        assert row == pytest.approx(ref, abs=TOLERANCE)


def test_cached_tokens_rise_on_a_repeat_member(vllm_url, loaded):
    batch = member_batch(loaded, seed=2)
    block = 128  # vLLM CPU block size: cache hits are whole 128-token blocks
    assert len(batch.prefix_ids) > 2 * block
    first, repeat = vllm_score(vllm_url, VLLMConfig(is_split_prompts=True), batch, batch)
    full_blocks = sum((len(batch.prefix_ids) + len(s) - 1) // block * block for s in batch.suffix_ids)
    assert repeat.cached_tokens == full_blocks
    assert repeat.cached_tokens > first.cached_tokens


def test_routed_scorer_over_the_real_server(vllm_url, loaded):
    batch = member_batch(loaded, seed=3)

    async def go():
        scorer = build_remote_scorer(
            "vllm", [vllm_url], None, "tiny", RemoteBackendConfig(routing=RoutedScorerConfig(default_timeout_s=30.0))
        )
        await scorer.start()
        try:
            assert scorer.is_ready()
            result = await scorer.score(batch)
            return result, scorer.metrics()
        finally:
            await scorer.close()

    result, samples = asyncio.run(go())
    assert len(result.label_logprobs) == batch.num_candidates
    healthy = [s for s in samples if s.name == "replica_healthy"]
    assert healthy and healthy[0].value == 1.0 and dict(healthy[0].labels)["replica"] == vllm_url


def rank_body(seed: int, k: int = 6) -> dict:
    rng = random.Random(seed)
    titles = ["Heat (1995)", "Toy Story (1995)", "Fargo (1996)", "Alien (1979)", "Jaws (1975)", "Casino (1995)"]
    history = [
        {"item": f"{rng.choice(titles)} | Action", "action": rng.choice(["liked", "disliked"]), "timestamp": 1e9 + i}
        for i in range(30)
    ]
    return {
        "member": {"id": f"u{seed}", "profile": "likes thrillers", "history": history},
        "candidates": [{"id": f"m{i}", "text": f"{rng.choice(titles)} | Comedy {i}"} for i in range(k)],
        "task": "like",
    }


def test_gateway_ranks_through_vllm_like_the_embedded_engine(vllm_url, vllm_model_dir, loaded, tmp_path):
    """`slmrank serve` with SLMRANK_BACKEND=vllm: same scores as the embedded engine, cache hits on repeat."""
    import sys

    import httpx

    from ranking.backends.engine_command import EngineCommand
    from ranking.backends.engine_process import EngineProcess
    from ranking.engine.embedded_engine import EmbeddedEngine
    from ranking.labels import resolve_all
    from ranking.ranker import Ranker
    from tests.ranking.backends.fake_engine import free_port

    port = free_port()
    argv = (sys.executable, "-m", "slmrank", "serve", "--host", "127.0.0.1", "--port", str(port))
    env = {
        "SLMRANK_MODEL_DIR": str(vllm_model_dir),
        "SLMRANK_BACKEND": "vllm",
        "SLMRANK_ENGINE_URLS": vllm_url,
        "SLMRANK_LOG_LEVEL": "warning",
        "SLMRANK_REQUEST_TIMEOUT_S": "60",  # 2 shared CPU cores: keep a slow first request from failing the test
    }
    gateway = EngineProcess(EngineCommand(argv, env), f"http://127.0.0.1:{port}", tmp_path / "gw.log", "/readyz")
    gateway.start(timeout_s=120)
    try:
        body = rank_body(seed=5)
        first = httpx.post(gateway.base_url + "/rank", json=body, timeout=60, trust_env=False)
        repeat = httpx.post(gateway.base_url + "/rank", json=body, timeout=60, trust_env=False)
        metrics = httpx.get(gateway.base_url + "/metrics", timeout=10, trust_env=False).text
    finally:
        gateway.stop()
    assert first.status_code == 200, first.text
    got = {r["id"]: r["score"] for r in repeat.json()["ranked"]}
    assert repeat.json()["usage"]["cached_tokens"] > 0

    async def embedded_ranking():
        engine = EmbeddedEngine(loaded)
        await engine.start()
        labels = resolve_all(loaded.tokenizer, TASKS.values(), loaded.vocab_size)
        card = ModelCard.load(vllm_model_dir)
        ranker = Ranker(PromptBuilder(loaded.tokenizer, card.prompt), engine, labels, card)
        m = body["member"]
        history = tuple(Interaction(h["item"], h["action"], h["timestamp"]) for h in m["history"])
        member = Member(m["id"], m["profile"], history)
        candidates = [Candidate(c["id"], c["text"]) for c in body["candidates"]]
        return await ranker.rank(member, candidates, "like")

    want = {r.candidate.id: r.score for r in asyncio.run(embedded_ranking()).ranked}
    assert got.keys() == want.keys()
    for cid, score in want.items():
        assert got[cid] == pytest.approx(score, abs=TOLERANCE)
    assert "replica" in metrics
