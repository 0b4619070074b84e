"""POST /v1/rerank: a Cohere/Jina-shaped view of /rank for clients that already speak rerank APIs.

The `query` becomes the member's profile (no history) and each document a candidate; results carry the
document's index in the request, best first, as those APIs do.
"""

from __future__ import annotations

import hashlib
import time
from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ranking.scores import ScoreType
from service.dependencies import GatewayDep, StateDep
from service.errors import RequestRejectedError, pydantic_details
from service.routes.rank import _ERRORS, score_ranking
from service.schemas import CandidateIn, MemberIn, PositiveJsonInt, RankRequest

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
    model: str | None = Field(None, description="A served model's id (GET /v1/models); omitted: the variant policy's.")
    top_n: PositiveJsonInt | None = None
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


def query_member_id(query: str) -> str:
    """The member id of a rerank query: a hash of its text, so queries spread over replicas and variants while
    the same query keeps its replica (and its cached prefix) and its variant."""
    return "rerank-" + hashlib.blake2b(query.encode(), digest_size=8).hexdigest()


def as_rank_request(req: RerankRequest) -> RankRequest:
    """The /rank request this rerank call means; candidate ids are the documents' indices."""
    texts = [d if isinstance(d, str) else d.text for d in req.documents]
    return RankRequest(
        member=MemberIn(id=query_member_id(req.query), profile=req.query),
        model=req.model,
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
async def rerank(req: RerankRequest, state: StateDep, gateway: GatewayDep) -> RerankResponse:
    """Score documents against a free-text query; the same limits and errors as /rank apply."""
    try:
        rank_req = as_rank_request(req)
    except ValidationError as exc:
        details = pydantic_details(exc.errors(include_input=False))
        raise RequestRejectedError(422, "invalid_request", "request body is not valid", details) from None
    try:
        scored = await score_ranking(rank_req, state, gateway, time.perf_counter())
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
        for r in scored.ranking.ranked
    ]
    usage = RerankUsage(total_tokens=scored.ranking.prompt_tokens, cached_tokens=scored.ranking.cached_tokens)
    return RerankResponse(model=scored.model, results=results, usage=usage)
