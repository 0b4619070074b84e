"""build_remote_scorer end to end over real sockets: two fake replicas, affinity, failover under load."""

from __future__ import annotations

import asyncio
import time

import pytest

from ranking.backends import RemoteBackendConfig, build_remote_scorer
from ranking.backends.remote_scorer import PrefixWarmup
from ranking.backends.sglang_scorer import SGLangConfig
from ranking.backends.vllm_scorer import VLLMConfig
from ranking.routing.health_checker import HealthCheckerConfig
from ranking.routing.routed_scorer import RoutedScorerConfig
from ranking.scorer import ScoreBatch, ScorerUnavailableError
from tests.ranking.backends.fake_engine import FakeEngineServer, fake_logprob, free_port

NO_WARMUP = RemoteBackendConfig(
    sglang=SGLangConfig(warmup=PrefixWarmup.NEVER), vllm=VLLMConfig(warmup=PrefixWarmup.NEVER)
)
FAST_HEALTH = RemoteBackendConfig(health=HealthCheckerConfig(interval_s=0.2))
ONE_SECOND = RemoteBackendConfig(routing=RoutedScorerConfig(default_timeout_s=1.0))


def batch(member: str, timeout_s: float = 3.0) -> ScoreBatch:
    prefix = tuple(range(300, 340))
    return ScoreBatch(prefix, ((1, 2), (3,)), (482, 455), member, time.monotonic() + timeout_s)


@pytest.mark.parametrize("backend", ["sglang", "vllm"])
def test_routes_members_to_replicas_and_scores(backend):
    servers = [FakeEngineServer().start() for _ in range(2)]
    try:

        async def go():
            scorer = build_remote_scorer(backend, [s.url for s in servers], None, "tiny", NO_WARMUP)
            await scorer.start()
            try:
                return [await scorer.score(batch(f"m{i}")) for i in range(20)]
            finally:
                await scorer.close()

        results = asyncio.run(go())
    finally:
        for s in servers:
            s.stop()
    prompt = (*range(300, 340), 1, 2)
    assert results[0].label_logprobs[0] == pytest.approx((fake_logprob(prompt, 482), fake_logprob(prompt, 455)))
    assert all(len(s.engine.requests) > 2 for s in servers)  # both replicas got members


def test_killing_a_replica_under_load_keeps_answering():
    """200 batches from 20 members at 8 in flight; one of two replicas stops a third of the way in."""
    servers = [FakeEngineServer().start() for _ in range(2)]
    for s in servers:
        s.engine.delay_s = 0.005

    async def go():
        scorer = build_remote_scorer("vllm", [s.url for s in servers], None, "tiny", FAST_HEALTH)
        await scorer.start()
        ok = failed = 0
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            nonlocal ok, failed
            async with sem:
                if i == 70:
                    await asyncio.to_thread(servers[0].stop)
                try:
                    await scorer.score(batch(f"m{i % 20}"))
                    ok += 1
                except ScorerUnavailableError:
                    failed += 1

        def healthy() -> dict[str, float]:
            return {dict(s.labels)["replica"]: s.value for s in scorer.metrics() if s.name == "replica_healthy"}

        try:
            await asyncio.gather(*(one(i) for i in range(200)))
            # Ejection needs consecutive failed probes; on a fast runner the load can end first, so wait
            # (bounded) for the checker rather than assume the load outlasted it.
            for _ in range(100):
                if healthy()[servers[0].url] == 0.0:
                    break
                await asyncio.sleep(0.1)
            final = healthy()
        finally:
            await scorer.close()
        return ok, failed, final

    try:
        ok, failed, healthy = asyncio.run(go())
    finally:
        servers[1].stop()
    assert ok / (ok + failed) >= 0.999
    assert healthy[servers[0].url] == 0.0 and healthy[servers[1].url] == 1.0


def test_no_endpoints_is_a_clear_error():
    with pytest.raises(ValueError, match="SLMRANK_ENGINE_URLS"):
        build_remote_scorer("vllm", [], None, "tiny")
    with pytest.raises(ValueError, match="backend"):
        build_remote_scorer("tgi", ["http://x:1"], None, "tiny")


def test_all_replicas_down_is_unavailable():
    async def go():
        scorer = build_remote_scorer("sglang", [f"http://127.0.0.1:{free_port()}"], None, "tiny", ONE_SECOND)
        await scorer.start()
        try:
            assert not scorer.is_ready()
            await scorer.score(batch("m"))
        finally:
            await scorer.close()

    with pytest.raises(ScorerUnavailableError):
        asyncio.run(go())
