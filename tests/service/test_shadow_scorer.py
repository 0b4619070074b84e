"""Shadow scoring never changes a response, never blocks it and never fails it (failure injected with fakes)."""

from __future__ import annotations

import asyncio
import time

import pytest

from ranking.ranker import Ranker
from ranking.scorer import ScoreBatch, Scorer, ScoreResult, ScorerUnavailableError
from service.engine_factory import build_ranker
from service.gateway import Gateway, ServedModel
from service.models_config import ModelEntry, ModelsConfig, ShadowConfig
from service.routes.rank import score_ranking
from service.schemas import RankRequest
from service.shadow_scorer import spearman
from service.state import ServiceState
from tests.service.conftest import make_settings, rank_body


class StuckScorer(Scorer):
    """Never answers until released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        self.calls += 1
        await self.release.wait()
        raise ScorerUnavailableError("released")


class FailingScorer(Scorer):
    def __init__(self) -> None:
        self.calls = 0

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        self.calls += 1
        raise RuntimeError("shadow engine exploded")


@pytest.fixture
def primary(tiny_model_dir):
    """The tiny model's ranker; each test starts it in its own event loop (and the gateway closes it)."""
    return build_ranker(make_settings(tiny_model_dir))


def gateway_with(primary: Ranker, shadow_scorer: Scorer | None, tiny_model_dir, state: ServiceState) -> Gateway:
    entry = ModelEntry(model_dir=tiny_model_dir)
    models = [ServedModel("main", entry, primary)]
    shadow = None
    if shadow_scorer is not None:
        models.append(ServedModel("shadow", entry.model_copy(update={"weight": 0.0}), Ranker(
            primary.builder, shadow_scorer, primary.label_tokens, primary.card)))  # fmt: skip
        shadow = ShadowConfig(model="shadow", max_in_flight=2, timeout_s=0.5)
    config = ModelsConfig(models=[m.entry for m in models], shadow=shadow)
    return Gateway(models, config, state.variant_metrics)


async def rank_once(primary, shadow_scorer, tiny_model_dir, member_id="m1"):
    state = ServiceState(make_settings(tiny_model_dir))
    gateway = gateway_with(primary, shadow_scorer, tiny_model_dir, state)
    body = rank_body(4)
    body["member"]["id"] = member_id
    scored = await asyncio.wait_for(score_ranking(RankRequest(**body), state, gateway, time.perf_counter()), 30)
    return scored, gateway, state


@pytest.mark.parametrize("fake", [StuckScorer, FailingScorer])
def test_a_stuck_or_failing_shadow_changes_nothing(primary, tiny_model_dir, fake) -> None:
    async def go():
        await primary.scorer.start()
        plain, _, _ = await rank_once(primary, None, tiny_model_dir)
        shadow_scorer = fake()
        shadowed, gateway, state = await rank_once(primary, shadow_scorer, tiny_model_dir)
        await asyncio.sleep(0.8)  # past the shadow's 0.5 s deadline
        await gateway.close()
        return plain, shadowed, shadow_scorer, state

    plain, shadowed, shadow_scorer, state = asyncio.run(go())
    assert shadow_scorer.calls == 1  # the shadow did run
    assert shadowed.ranking.ranked == plain.ranking.ranked and shadowed.model == "main"
    errors = state.variant_metrics.shadow_requests.labels("shadow", "main", "error")._value.get()
    assert errors == 1


def test_shadow_over_capacity_is_dropped_not_queued(primary, tiny_model_dir) -> None:
    async def go():
        await primary.scorer.start()
        state = ServiceState(make_settings(tiny_model_dir))
        stuck = StuckScorer()
        gateway = gateway_with(primary, stuck, tiny_model_dir, state)
        for i in range(5):
            body = rank_body(2)
            body["member"]["id"] = f"m{i}"
            await score_ranking(RankRequest(**body), state, gateway, time.perf_counter())
        stuck.release.set()
        await gateway.close()
        return stuck, state

    stuck, state = asyncio.run(go())
    dropped = state.variant_metrics.shadow_requests.labels("shadow", "main", "dropped")._value.get()
    assert stuck.calls == 2 and dropped == 3


def test_spearman() -> None:
    assert spearman(["a", "b", "c"], ["a", "b", "c"]) == 1.0
    assert spearman(["a", "b", "c"], ["c", "b", "a"]) == -1.0
    assert spearman(["a"], ["a"]) == 1.0
