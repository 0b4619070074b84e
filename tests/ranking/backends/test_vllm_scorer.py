"""vLLM client against the fake engine: completions and generative_scoring shapes, cached tokens, faults."""

from __future__ import annotations

import asyncio
import time

import pytest

from ranking.backends.engine_client import EngineProtocolError
from ranking.backends.vllm_scorer import VLLMApi, VLLMConfig, VLLMScorer, VLLMVersionError
from ranking.routing.routed_scorer import NonRetryableScorerError
from ranking.scorer import ScoreBatch, ScorerOverloadedError, ScorerTimeoutError, ScorerUnavailableError
from tests.ranking.backends.fake_engine import fake_logprob, free_port

PREFIX = tuple(range(200, 230))
SUFFIXES = ((1, 2, 3), (4, 5), (6,), (7, 8))
LABELS = (482, 455)


def batch(timeout_s: float = 5.0) -> ScoreBatch:
    return ScoreBatch(PREFIX, SUFFIXES, LABELS, "m", time.monotonic() + timeout_s)


def score(url: str, config: VLLMConfig, times: int = 1):
    async def go():
        scorer = VLLMScorer(url, config)
        try:
            return [await scorer.score(batch()) for _ in range(times)]
        finally:
            await scorer.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    "config",
    [
        VLLMConfig(model_name="tiny"),
        VLLMConfig(is_split_prompts=True),
        VLLMConfig(api=VLLMApi.GENERATIVE_SCORING, model_name="tiny"),
    ],
    ids=["completions", "split", "generative_scoring"],
)
def test_scores_are_full_vocab_logprobs_in_label_order(fake_server, config):
    (result,) = score(fake_server.url, config)
    for row, suffix in zip(result.label_logprobs, SUFFIXES, strict=True):
        assert row == pytest.approx([fake_logprob(PREFIX + suffix, lab) for lab in LABELS], abs=1e-9)


def test_completions_request_shape(fake_server):
    score(fake_server.url, VLLMConfig(model_name="tiny"))
    path, body = fake_server.engine.requests[-1]
    assert path == "/v1/completions" and body["model"] == "tiny"
    assert body["prompt"] == [list(PREFIX + s) for s in SUFFIXES]
    assert body["max_tokens"] == 1 and body["logprob_token_ids"] == list(LABELS)
    assert body["return_tokens_as_token_ids"] is True and body["logprobs"] >= 1


def test_generative_scoring_asks_once_per_label_with_that_label_first(fake_server):
    score(fake_server.url, VLLMConfig(api=VLLMApi.GENERATIVE_SCORING))
    firsts = sorted(body["label_token_ids"][0] for _, body in fake_server.engine.requests)
    assert firsts == sorted(LABELS)
    assert all(body["apply_softmax"] is False for _, body in fake_server.engine.requests)


def test_cached_tokens_rise_on_a_repeat_member(fake_server):
    cold, repeat = score(fake_server.url, VLLMConfig(), times=2)
    # one request reports only its last prompt's count; the client scales it by k (an estimate)
    assert repeat.cached_tokens > cold.cached_tokens
    assert repeat.cached_tokens == len(SUFFIXES) * (len(PREFIX) + len(SUFFIXES[-1]) - 1)


def test_split_prompts_sum_exact_cached_counts(fake_server):
    _, repeat = score(fake_server.url, VLLMConfig(is_split_prompts=True), times=2)
    assert repeat.cached_tokens == sum(len(PREFIX) + len(s) - 1 for s in SUFFIXES)


def test_connection_refused_is_unavailable():
    with pytest.raises(ScorerUnavailableError):
        score(f"http://127.0.0.1:{free_port()}", VLLMConfig())


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("5xx", ScorerUnavailableError),
        ("429", ScorerOverloadedError),
        ("4xx", NonRetryableScorerError),
        ("malformed", EngineProtocolError),
        ("wrong_count", EngineProtocolError),
        ("missing_label", EngineProtocolError),
    ],
)
@pytest.mark.parametrize("api", list(VLLMApi))
def test_faults_map_to_scorer_errors(fake_server, fault, error, api):
    if api is VLLMApi.GENERATIVE_SCORING and fault == "missing_label":
        pytest.skip("generative_scoring returns one score per item, no per-label keys")
    fake_server.engine.fault = fault
    with pytest.raises(error) as info:
        score(fake_server.url, VLLMConfig(api=api))
    assert "200, 201" not in str(info.value)


def test_timeout_is_a_scorer_timeout(fake_server):
    fake_server.engine.fault = "timeout"

    async def go():
        scorer = VLLMScorer(fake_server.url)
        try:
            await scorer.score(batch(timeout_s=0.3))
        finally:
            await scorer.close()

    with pytest.raises(ScorerTimeoutError):
        asyncio.run(go())


def test_a_server_that_ignores_logprob_token_ids_is_named_with_the_minimum_version(fake_server, caplog):
    fake_server.engine.fault = "old_vllm"
    with pytest.raises(VLLMVersionError, match=r"vLLM 0\.26\.0"):
        score(fake_server.url, VLLMConfig())
    assert "0.26.0" in caplog.text
