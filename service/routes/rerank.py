"""POST /v1/rerank: a Cohere/Jina-shaped view of /rank for clients that already speak rerank APIs.

The `query` becomes the member's profile (no history) and each document a candidate; results carry the
document's index in the request, best first, as those APIs do.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ranking.scores import ScoreType
from service.dependencies import RankerDep, StateDep
from service.errors import RequestRejectedError, pydantic_details
from service.routes.rank import _ERRORS, score_ranking
from service.schemas import CandidateIn, MemberIn, RankRequest

router = APIRouter(tags=["ranking"])


DocumentText = Annotated[str, Field(min_length=1)]


class RerankDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(..., min_length=1)


class RerankRequest(BaseModel):
    """Cohere v2 / Jina rerank request; `query` describes the member."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(..., min_length=1, description="Free-text description of the member (used as profile).")
    documents: list[DocumentText | RerankDocument] = Field(..., description="Candidate texts, or {text} objects.")
    model: str | None = Field(None, description="Ignored: the service serves one model.")
    top_n: int | None = Field(None, ge=1)
    task: str | None = None
    return_documents: bool = False


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankUsage(BaseModel):
    total_tokens: int
    cached_tokens: int


class RerankResponse(BaseModel):
    model: str
    results: list[RerankResult]
    usage: RerankUsage


def as_rank_request(req: RerankRequest) -> RankRequest:
    """The /rank request this rerank call means; candidate ids are the documents' indices."""
    texts = [d if isinstance(d, str) else d.text for d in req.documents]
    return RankRequest(
        member=MemberIn(id="rerank", profile=req.query),
        candidates=[CandidateIn(id=str(i), text=t) for i, t in enumerate(texts)],
        task=req.task,
        top_n=req.top_n,
        score_type=ScoreType.PROBABILITY,
    )


def rerank_field(field: str) -> str:
    """A /rank field path in /v1/rerank's terms."""
    if field.startswith("candidates"):
        return field.replace("candidates", "documents", 1).removesuffix(".text")
    return {"member.profile": "query"}.get(field, field)


@router.post(
    "/v1/rerank",
    response_model=RerankResponse,
    responses=_ERRORS,  # type: ignore[arg-type]
    summary="Rerank documents (Cohere/Jina-compatible)",
)
async def rerank(req: RerankRequest, state: StateDep, ranker: RankerDep) -> RerankResponse:
    """Score documents against a free-text query; the same limits and errors as /rank apply."""
    try:
        rank_req = as_rank_request(req)
    except ValidationError as exc:
        details = pydantic_details(exc.errors(include_input=False))
        raise RequestRejectedError(422, "invalid_request", "request body is not valid", details) from None
    try:
        ranking, _ = await score_ranking(rank_req, state, ranker, time.perf_counter())
    except RequestRejectedError as exc:
        # Name the fields the client sent: candidates[i].text -> documents[i], member.profile -> query.
        for detail in exc.details:
            detail.field = rerank_field(detail.field)
        raise
    texts = [c.text for c in rank_req.candidates]
    results = [
        RerankResult(
            index=int(r.candidate.id),
            relevance_score=r.score,
            document=RerankDocument(text=texts[int(r.candidate.id)]) if req.return_documents else None,
        )
        for r in ranking.ranked
    ]
    usage = RerankUsage(total_tokens=ranking.prompt_tokens, cached_tokens=ranking.cached_tokens)
    return RerankResponse(model=ranker.model_name, results=results, usage=usage)
