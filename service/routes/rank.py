"""POST /rank: score k candidates for one member and return them best first."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from fastapi import APIRouter

from ranking.member import Candidate, Interaction, Member
from ranking.ranker import Ranking
from ranking.scorer import ScorerError, ScorerTimeoutError
from service.admission import check_rank_request
from service.admission_gate import candidate_budget
from service.dependencies import GatewayDep, StateDep
from service.errors import RequestRejectedError, scorer_error_response
from service.gateway import Gateway, ServedModel
from service.schemas import ErrorResponse, RankedItem, RankRequest, RankResponse, Timing, Usage
from service.state import ServiceState

router = APIRouter(tags=["ranking"])

_ERRORS = {
    400: {"model": ErrorResponse, "description": "Malformed JSON."},
    401: {"model": ErrorResponse, "description": "Missing or invalid API key (when keys are configured)."},
    413: {"model": ErrorResponse, "description": "Body larger than SLMRANK_MAX_BODY_BYTES."},
    422: {"model": ErrorResponse, "description": "A field is invalid or over its limit, or an unknown model."},
    503: {"model": ErrorResponse, "description": "Not ready, or the engine is at capacity (Retry-After)."},
    504: {"model": ErrorResponse, "description": "Scoring missed SLMRANK_REQUEST_TIMEOUT_S."},
}


def to_domain(req: RankRequest) -> tuple[Member, list[Candidate]]:
    """Pydantic bodies -> ranking's plain dataclasses."""
    history = tuple(Interaction(h.item, h.action, h.timestamp) for h in req.member.history)
    member = Member(req.member.id, req.member.profile, history, req.member.label_rates)
    return member, [Candidate(c.id, c.text, c.metadata, c.label_rates, c.similar_rates) for c in req.candidates]


def to_response(
    req: RankRequest, ranking: Ranking, model: str, variant: str, task: str, total_ms: float
) -> RankResponse:
    ranked = [
        RankedItem(id=r.candidate.id, score=r.score, rank=r.rank, metadata=r.candidate.metadata) for r in ranking.ranked
    ]
    usage = Usage(
        prompt_tokens=ranking.prompt_tokens,
        cached_tokens=ranking.cached_tokens,
        candidates=ranking.num_candidates,
        history_shown=ranking.num_history_shown,
    )
    timing = Timing(engine=round(ranking.engine_ms, 3), total=round(total_ms, 3))
    return RankResponse(
        member_id=req.member.id,
        model=model,
        variant=variant,
        task=task,
        score_type=req.score_type,
        ranked=ranked,
        usage=usage,
        timing_ms=timing,
    )


@dataclass(frozen=True)
class Scored:
    """A ranking and who made it: the served model, the variant label, the task."""

    ranking: Ranking
    model: str
    variant: str
    task: str


async def score_ranking(req: RankRequest, state: ServiceState, gateway: Gateway, started: float) -> Scored:
    """Pick the model, admission checks, then rank under the request deadline, recording the request metrics."""
    served, variant = gateway.pick(req.model, req.member.id)
    ranker = served.ranker
    try:
        prompt = ranker.card.prompt
        check_rank_request(
            req, state.settings, ranker.tasks, ranker.default_task, prompt.label_rates, prompt.similar_rates
        )
    except RequestRejectedError as exc:  # a refused request still counts against its variant's errors
        state.variant_metrics.requests.labels(served.name, variant, exc.code).inc()
        raise
    task = req.task if req.task is not None else ranker.default_task
    member, candidates = to_domain(req)
    with candidate_budget(state, len(candidates)):
        ranking = await _rank(req, state, served, variant, task, member, candidates, started)
    by_variant = state.variant_metrics
    by_variant.candidates.labels(served.name, variant).inc(len(candidates))
    by_variant.prompt_tokens.labels(served.name, variant).inc(ranking.prompt_tokens)
    by_variant.cached_tokens.labels(served.name, variant).inc(ranking.cached_tokens)
    if gateway.shadow is not None:
        gateway.shadow.submit(served.name, member, candidates, task, ranking)
    return Scored(ranking, served.name, variant, task)


async def _rank(
    req: RankRequest,
    state: ServiceState,
    served: ServedModel,
    variant: str,
    task: str,
    member: Member,
    candidates: list[Candidate],
    started: float,
) -> Ranking:
    """Rank under the request deadline; latency and outcome go to the service and per-variant metrics."""
    settings, metrics = state.settings, state.metrics
    metrics.candidates.observe(len(candidates))
    status = "ok"
    metrics.in_flight.inc()
    try:
        deadline = time.monotonic() + settings.request_timeout_s
        # The deadline is also passed down so engines drop work nobody waits for; wait_for is the backstop.
        ranking = await asyncio.wait_for(
            served.ranker.rank(member, candidates, task, req.top_n, req.score_type, deadline),
            timeout=settings.request_timeout_s + 1.0,
        )
    except TimeoutError:
        status = "deadline_exceeded"
        raise ScorerTimeoutError("request deadline exceeded") from None
    except ScorerError as exc:
        status = scorer_error_response(exc)[1]
        raise
    except Exception:
        status = "error"
        raise
    finally:
        elapsed = time.perf_counter() - started
        metrics.in_flight.dec()
        metrics.latency.labels(status="ok" if status == "ok" else "error").observe(elapsed)
        state.variant_metrics.requests.labels(served.name, variant, status).inc()
        state.variant_metrics.latency.labels(served.name, variant).observe(elapsed)
    metrics.prompt_tokens.inc(ranking.prompt_tokens)
    metrics.cached_tokens.inc(ranking.cached_tokens)
    return ranking


@router.post(
    "/rank",
    response_model=RankResponse,
    responses=_ERRORS,  # type: ignore[arg-type]
    summary="Rank candidates for a member",
)
async def rank(req: RankRequest, state: StateDep, gateway: GatewayDep) -> RankResponse:
    """Score every candidate with the model's next-token label probability and return them best first.

    Ties keep the order the candidates were sent in. `usage.cached_tokens` shows how much of the prompt the
    engine's prefix cache saved (the member prefix is shared by all k candidates). `model` picks a served
    model (GET /v1/models); without it the A/B variant policy assigns one by member id (sticky).
    """
    started = time.perf_counter()
    scored = await score_ranking(req, state, gateway, started)
    total_ms = (time.perf_counter() - started) * 1000.0
    return to_response(req, scored.ranking, scored.model, scored.variant, scored.task, total_ms)
