"""GET /healthz (the process is alive) and GET /readyz (model loaded and warmed, engine ready)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.dependencies import StateDep
from service.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse, summary="Liveness")
async def healthz() -> HealthResponse:
    """200 while the process can answer HTTP at all."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, summary="Readiness", responses={503: {}})
async def readyz(state: StateDep) -> JSONResponse:
    """200 once the model is loaded and warmed (embedded) or an engine replica is healthy (remote); 503 from
    SIGTERM on, so load balancers stop sending new work while in-flight requests finish."""
    model = state.ranker.model_name if state.ranker else None
    status = "draining" if state.is_draining else "ready" if state.is_ready else "loading"
    body = HealthResponse(status=status, model=model, backend=state.settings.backend)
    return JSONResponse(status_code=200 if state.is_ready else 503, content=body.model_dump())
