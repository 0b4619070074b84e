"""FastAPI dependencies: the app's state and the loaded gateway with its models (API keys: service/api_key.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.errors import RequestRejectedError
from service.gateway import Gateway
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def get_gateway(state: StateDep) -> Gateway:
    """The loaded gateway, or 503 while the models load (each request's model is checked once picked)."""
    if state.gateway is None:
        raise RequestRejectedError(503, "not_ready", "the model is still loading", retry_after_s=5)
    return state.gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
