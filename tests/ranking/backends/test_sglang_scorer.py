"""SGLang client against the fake engine: request shapes, parsing, warm-up, cached tokens, faults."""

from __future__ import annotations

import asyncio
import math
import time

import pytest

from ranking.backends.engine_client import EngineClientConfig, EngineProtocolError
from ranking.backends.remote_scorer import PrefixWarmup
from ranking.backends.sglang_scorer import SGLangApi, SGLangConfig, SGLangScorer
from ranking.routing.routed_scorer import NonRetryableScorerError
from ranking.scorer import ScoreBatch, ScorerTimeoutError, ScorerUnavailableError
from tests.ranking.backends.fake_engine import fake_logprob, free_port

PREFIX = tuple(range(100, 140))
SUFFIXES = ((7, 8, 9), (10, 11), (12,))
LABELS = (482, 455)


def batch(timeout_s: float = 5.0, prefix: tuple[int, ...] = PREFIX) -> ScoreBatch:
    return ScoreBatch(prefix, SUFFIXES, LABELS, "m", time.monotonic() + timeout_s)


def expected() -> list[tuple[float, ...]]:
    return [tuple(fake_logprob(PREFIX + s, lab) for lab in LABELS) for s in SUFFIXES]


def score(url: str, config: SGLangConfig, b: ScoreBatch | None = None):
    async def go():
        scorer = SGLangScorer(url, config)
        try:
            return await scorer.score(b or batch())
        finally:
            await scorer.close()

    return asyncio.run(go())


@pytest.mark.parametrize("api", list(SGLangApi))
def test_scores_are_the_engines_full_vocab_logprobs_in_label_order(fake_server, api):
    result = score(fake_server.url, SGLangConfig(api=api, warmup=PrefixWarmup.NEVER))
    for row, want in zip(result.label_logprobs, expected(), strict=True):
        assert row == pytest.approx(want, abs=1e-9)
    assert result.prompt_tokens == sum(len(PREFIX) + len(s) for s in SUFFIXES)


def test_generate_request_has_the_documented_fields(fake_server):
    score(fake_server.url, SGLangConfig(warmup=PrefixWarmup.NEVER))
    path, body = fake_server.engine.requests[-1]
    assert path == "/generate"
    assert body["input_ids"] == [list(PREFIX + s) for s in SUFFIXES]
    assert body["sampling_params"] == {"max_new_tokens": 0, "temperature": 0.0}
    assert body["return_logprob"] is True and body["token_ids_logprob"] == list(LABELS)
    assert body["logprob_start_len"] == -1  # >= 0 would cap radix-cache reuse


def test_old_servers_get_one_new_token(fake_server):
    score(fake_server.url, SGLangConfig(is_prefill_only=False, warmup=PrefixWarmup.NEVER))
    assert fake_server.engine.requests[-1][1]["sampling_params"]["max_new_tokens"] == 1


def test_score_api_sends_prefix_once(fake_server):
    score(fake_server.url, SGLangConfig(api=SGLangApi.SCORE, warmup=PrefixWarmup.NEVER))
    path, body = fake_server.engine.requests[-1]
    assert path == "/v1/score" and body["query"] == list(PREFIX) and body["apply_softmax"] is False
    assert body["items"] == [list(s) for s in SUFFIXES]


def test_warmup_makes_every_candidate_hit_the_prefix(fake_server):
    cold = score(fake_server.url, SGLangConfig(warmup=PrefixWarmup.NEVER))
    # Without warm-up, the first prompt of a cold batch computes the prefix itself (fake: prompts in one
    # request do not see each other), so nothing is cached; with warm-up each prompt hits len(PREFIX) - 1.
    assert cold.cached_tokens == 0
    warm = score(fake_server.url, SGLangConfig(warmup=PrefixWarmup.ALWAYS), batch(prefix=(*PREFIX[:-1], 1)))
    assert warm.cached_tokens == len(SUFFIXES) * len(PREFIX)
    paths = [p for p, _ in fake_server.engine.requests]
    assert paths == ["/generate", "/generate", "/generate"]


def test_new_warmup_policy_warms_each_prefix_once(fake_server):
    async def go():
        scorer = SGLangScorer(fake_server.url, SGLangConfig(warmup=PrefixWarmup.NEW))
        try:
            first = await scorer.score(batch())
            second = await scorer.score(batch())
        finally:
            await scorer.close()
        return first, second

    first, second = asyncio.run(go())
    assert len(fake_server.engine.requests) == 3  # warm-up + batch, then the batch alone
    assert second.cached_tokens >= first.cached_tokens > 0


def test_connection_refused_is_unavailable():
    with pytest.raises(ScorerUnavailableError, match="unreachable"):
        score(f"http://127.0.0.1:{free_port()}", SGLangConfig())


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("5xx", ScorerUnavailableError),
        ("4xx", NonRetryableScorerError),
        ("malformed", EngineProtocolError),
        ("wrong_count", EngineProtocolError),
        ("missing_label", EngineProtocolError),
    ],
)
@pytest.mark.parametrize("api", list(SGLangApi))
def test_faults_map_to_scorer_errors_without_prompt_content(fake_server, fault, error, api):
    fake_server.engine.fault = fault
    with pytest.raises(error) as info:
        score(fake_server.url, SGLangConfig(api=api, warmup=PrefixWarmup.NEVER))
    assert "100, 101" not in str(info.value) and "[" not in str(info.value)


def test_timeout_is_a_scorer_timeout(fake_server):
    fake_server.engine.fault = "timeout"
    started = time.monotonic()
    with pytest.raises(ScorerTimeoutError):
        score(fake_server.url, SGLangConfig(warmup=PrefixWarmup.NEVER), batch(timeout_s=0.3))
    # The fake hangs for 30 s: ending within seconds means the 0.3 s timeout ended it (which event, not speed).
    assert time.monotonic() - started < 5


def test_health_uses_real_generation_endpoint(fake_server):
    async def go():
        scorer = SGLangScorer(fake_server.url)
        try:
            ok = await scorer.check_health(1.0)
            fake_server.engine.fault = "unhealthy"
            return ok, await scorer.check_health(1.0)
        finally:
            await scorer.close()

    assert asyncio.run(go()) == (True, False)
    assert fake_server.engine.requests[-1][0] == "/health_generate"


def test_zero_probability_becomes_a_finite_floor():
    from ranking.backends.sglang_scorer import parse_score

    b = batch()
    result = parse_score({"scores": [[0.0, 1.0]] * 3}, b, "http://x")
    assert all(math.isfinite(row[0]) and row[0] < -700 for row in result.label_logprobs)


def test_a_forgotten_prefix_is_warmed_again(fake_server):
    """seen_prefixes bounds the warmed-prefix memory: a member pushed out by newer ones is warmed anew."""

    async def go():
        config = SGLangConfig(warmup=PrefixWarmup.NEW)
        scorer = SGLangScorer(fake_server.url, config, EngineClientConfig(seen_prefixes=1))
        try:
            await scorer.score(batch())
            await scorer.score(batch(prefix=(*PREFIX[:-1], 1)))  # a second member pushes the first out
            await scorer.score(batch())
        finally:
            await scorer.close()

    asyncio.run(go())
    assert len(fake_server.engine.requests) == 6  # warm-up + batch, three times
