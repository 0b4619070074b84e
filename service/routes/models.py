"""GET /v1/models: every served model with its card, so a client can see how to render requests for it."""

from __future__ import annotations

from fastapi import APIRouter

from service.dependencies import StateDep
from service.schemas import ModelList

router = APIRouter(tags=["models"])


@router.get("/v1/models", response_model=ModelList, summary="Served models and their cards")
async def list_models(state: StateDep) -> ModelList:
    """Each served model: its card (tasks with their label strings, input contract with an example request,
    prompt budgets), its backend and its A/B weight. The first model is the default one."""
    return state.model_list()
