"""Router behaviour with scripted in-process replicas: affinity, retry, deadline, breaker, metrics."""

from __future__ import annotations

import asyncio
import time

import pytest

from ranking.routing.circuit_breaker import CircuitBreakerConfig
from ranking.routing.health_checker import HealthChecker, HealthCheckerConfig
from ranking.routing.replica_set import ReplicaSet
from ranking.routing.routed_scorer import NonRetryableScorerError, RoutedScorer, RoutedScorerConfig
from ranking.scorer import ScoreBatch, ScorerTimeoutError, ScorerUnavailableError
from tests.ranking.routing.fake_replica import FakeReplica

URLS = [f"http://r{i}:1" for i in range(3)]


def make(
    urls: list[str] = URLS, breaker_failures: int = 3, default_timeout_s: float = 5.0
) -> tuple[RoutedScorer, dict[str, FakeReplica]]:
    fakes: dict[str, FakeReplica] = {}

    def factory(url: str) -> FakeReplica:
        fakes[url] = FakeReplica(url)
        return fakes[url]

    replica_set = ReplicaSet(factory, breaker_config=CircuitBreakerConfig(failure_threshold=breaker_failures))
    replica_set.set_endpoints(urls)
    checker = HealthChecker(replica_set, HealthCheckerConfig(interval_s=60, timeout_s=0.2))
    return RoutedScorer(replica_set, checker, RoutedScorerConfig(default_timeout_s=default_timeout_s)), fakes


def batch(key: str = "member-1", timeout_s: float | None = 2.0) -> ScoreBatch:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    return ScoreBatch((1, 2, 3), ((4,), (5,)), (7, 8), key, deadline)


async def started(scorer: RoutedScorer) -> RoutedScorer:
    await scorer.start()
    return scorer


def test_same_member_always_goes_to_the_same_replica():
    async def go():
        scorer, _ = make()
        await scorer.start()
        try:
            engines = {(await scorer.score(batch(f"m{i % 7}"))).engine for i in range(70)}
            per_member = {k: {(await scorer.score(batch(k))).engine for _ in range(5)} for k in ("a", "b", "c")}
        finally:
            await scorer.close()
        return engines, per_member

    engines, per_member = asyncio.run(go())
    assert len(engines) > 1  # 7 members spread over replicas
    assert all(len(v) == 1 for v in per_member.values())


def test_failed_replica_is_retried_once_on_the_next_in_hash_order():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        order = [r.url for r in scorer.replica_set.route("member-1")]
        fakes[order[0]].mode = "fail"
        result = await scorer.score(batch())
        await scorer.close()
        return order, result, fakes

    order, result, fakes = asyncio.run(go())
    assert result.engine == order[1]
    assert fakes[order[0]].calls == 1 and fakes[order[2]].calls == 0


def test_two_failures_give_unavailable_and_a_third_replica_is_not_tried():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        order = [r.url for r in scorer.replica_set.route("member-1")]
        fakes[order[0]].mode = fakes[order[1]].mode = "fail"
        try:
            with pytest.raises(ScorerUnavailableError, match="2 engine attempt"):
                await scorer.score(batch())
        finally:
            await scorer.close()
        return fakes[order[2]].calls

    assert asyncio.run(go()) == 0


def test_rejected_request_is_not_retried():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        for f in fakes.values():
            f.mode = "reject"
        try:
            with pytest.raises(NonRetryableScorerError):
                await scorer.score(batch())
        finally:
            await scorer.close()
        return sum(f.calls for f in fakes.values())

    assert asyncio.run(go()) == 1


def test_hung_replica_times_out_and_the_retry_answers_within_the_deadline():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        order = [r.url for r in scorer.replica_set.route("member-1")]
        fakes[order[0]].mode = "hang"
        result = await scorer.score(batch(timeout_s=1.0))
        await scorer.close()
        return order, result, fakes

    # The scorer raises ScorerTimeoutError once the 1 s deadline passes, so an answer means it came in time.
    order, result, fakes = asyncio.run(go())
    assert result.engine == order[1]
    assert fakes[order[0]].calls == 1 and fakes[order[1]].calls == 1


def test_all_hung_raises_timeout_at_the_deadline():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        for f in fakes.values():
            f.mode = "hang"
        started_at = time.monotonic()
        try:
            with pytest.raises(ScorerTimeoutError):
                await scorer.score(batch(timeout_s=0.5))
        finally:
            await scorer.close()
        return time.monotonic() - started_at

    # The fakes hang for 60 s: ending within a few seconds means the 0.5 s deadline, not the hang, ended it.
    # (A loose bound on purpose: this checks which event ended the call, not how fast.)
    assert asyncio.run(go()) < 10


def test_batch_without_deadline_gets_the_default_timeout():
    async def go():
        scorer, fakes = make(urls=URLS[:1], default_timeout_s=0.3)
        await scorer.start()
        fakes[URLS[0]].mode = "hang"
        try:
            with pytest.raises(ScorerTimeoutError):
                await scorer.score(batch(timeout_s=None))
        finally:
            await scorer.close()

    asyncio.run(go())


def test_breaker_stops_sending_to_a_failing_replica():
    async def go():
        scorer, fakes = make(breaker_failures=3)
        await scorer.start()
        bad = next(r.url for r in scorer.replica_set.route("member-1"))
        fakes[bad].mode = "fail"
        for _ in range(10):
            await scorer.score(batch())
        await scorer.close()
        return fakes[bad].calls, scorer.replica_set.replicas[bad].breaker.state.value

    calls, state = asyncio.run(go())
    assert calls == 3 and state == "open"


def test_unhealthy_replicas_are_ejected_and_readmitted():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        home = next(r.url for r in scorer.replica_set.route("member-1"))
        fakes[home].is_up = False
        for _ in range(2):  # failure_threshold = 2
            await scorer.health_checker.check_once()
        away = (await scorer.score(batch())).engine
        fakes[home].is_up = True
        await scorer.health_checker.check_once()
        back = (await scorer.score(batch())).engine
        await scorer.close()
        return home, away, back, fakes[home].calls

    home, away, back, home_calls = asyncio.run(go())
    assert away != home and back == home and home_calls == 1


def test_no_healthy_replica_means_not_ready_but_replicas_are_still_tried():
    async def go():
        scorer, fakes = make()
        for f in fakes.values():
            f.is_up = False
        await scorer.start()
        try:
            assert not scorer.is_ready()
            result = await scorer.score(batch())  # health says down, but the engine answers: panic routing
            for f in fakes.values():
                f.mode = "fail"
            with pytest.raises(ScorerUnavailableError):
                await scorer.score(batch())
        finally:
            await scorer.close()
        return result

    assert len(asyncio.run(go()).label_logprobs) == 2


def test_no_replica_at_all_is_unavailable():
    async def go():
        scorer, _ = make(urls=[])
        try:
            with pytest.raises(ScorerUnavailableError, match="no healthy"):
                await scorer.score(batch())
        finally:
            await scorer.close()

    asyncio.run(go())


def test_metrics_carry_a_replica_label_and_count_requests_errors_and_tokens():
    async def go():
        scorer, fakes = make()
        await scorer.start()
        home = next(r.url for r in scorer.replica_set.route("member-1"))
        await scorer.score(batch())
        fakes[home].mode = "fail"
        await scorer.score(batch())
        samples = scorer.metrics()
        await scorer.close()
        return home, samples

    home, samples = asyncio.run(go())
    by = {(s.name, dict(s.labels).get("replica")): s for s in samples}
    assert by[("replica_requests_total", home)].value == 2
    assert by[("replica_errors_total", home)].value == 1
    assert by[("replica_cached_tokens_total", home)].value == 3
    assert by[("replica_prompt_tokens_total", home)].value == 8
    assert by[("replica_healthy", home)].value == 1.0
    hist = by[("replica_latency_seconds", home)]
    assert hist.kind == "histogram" and hist.buckets[-1] == (float("inf"), 2.0)
    assert by[("replicas_healthy", None)].value == 3


def test_overloaded_replicas_shed_load_without_opening_circuits():
    from ranking.scorer import ScorerOverloadedError

    async def go():
        scorer, fakes = make(breaker_failures=1)
        await scorer.start()
        for f in fakes.values():
            f.mode = "overloaded"
        try:
            with pytest.raises(ScorerOverloadedError):
                await scorer.score(batch())
        finally:
            await scorer.close()
        return [r.breaker.state.value for r in scorer.replica_set.replicas.values()]

    assert asyncio.run(go()) == ["closed"] * 3
