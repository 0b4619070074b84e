"""FastAPI dependencies: the app's state and the loaded ranker (API keys: service/api_key.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ranking.ranker import Ranker
from service.errors import RequestRejectedError
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_ranker(state: StateDep) -> Ranker:
    """The loaded ranker, or 503: still loading, or loaded but no engine can score (with Retry-After)."""
    if state.ranker is None:
        raise RequestRejectedError(503, "not_ready", "the model is still loading", retry_after_s=5)
    if not state.ranker.scorer.is_ready():
        raise RequestRejectedError(503, "engine_unavailable", "no engine replica is healthy", retry_after_s=2)
    return state.ranker


RankerDep = Annotated[Ranker, Depends(get_ranker)]
