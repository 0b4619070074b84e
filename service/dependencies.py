"""FastAPI dependencies: the app's state, the loaded gateway (its models), and the API-key check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header, Request

from service.errors import RequestRejectedError
from service.gateway import Gateway
from service.state import ServiceState


def get_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


StateDep = Annotated[ServiceState, Depends(get_state)]


def require_api_key(state: StateDep, authorization: Annotated[str | None, Header()] = None) -> None:
    """When SLMRANK_API_KEYS is set, /rank needs `Authorization: Bearer <one of them>`."""
    keys = state.settings.api_key_set
    if not keys:
        return
    scheme, _, token = (authorization or "").partition(" ")
    # compare_digest on every key: the time taken does not reveal how much of a key matched.
    if scheme.lower() != "bearer" or not any(hmac.compare_digest(token, k) for k in keys):
        raise RequestRejectedError(401, "unauthorized", "missing or invalid API key")


def get_gateway(state: StateDep) -> Gateway:
    if state.gateway is None or not state.gateway.is_ready():
        raise RequestRejectedError(503, "not_ready", "the model is still loading")
    return state.gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
