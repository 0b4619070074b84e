"""create_app(settings): the FastAPI application, with a lifespan that loads and warms the model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from service.admission_gate import AdmissionGate
from service.api_key import ApiKeyMiddleware
from service.body_limit import BodyLimitMiddleware
from service.catch_all import CatchAllMiddleware
from service.engine_factory import build_gateway
from service.errors import install_error_handlers
from service.metrics_port import MetricsPortMiddleware
from service.openapi_limits import install_openapi_limits
from service.routes import health, metrics, models, rank, rerank
from service.routes.docs import install_docs
from service.settings import Settings
from service.state import ServiceState
from service.strict_json import StrictJsonMiddleware
from slmrank import __version__

log = logging.getLogger(__name__)

DESCRIPTION = """
Rank candidate items for a member with a small language model.

Each candidate's prompt is the member prefix (task instruction, profile, recent history) shared by all
candidates, then a short candidate suffix; the score is the model's probability of the positive label token
(e.g. " Yes") against the negative one, read from a single next-token prediction.

Which tasks a model has, their label strings and how to render members and items for it (its input contract,
with an example request) are in its checkpoint card: see [GET /v1/models](/v1/models). One gateway may serve
several models: a request may name one in `model`; otherwise an A/B variant policy assigns one by member id,
and the response names the `model` and `variant` that scored it.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service for `settings` (read from SLMRANK_* environment variables when omitted)."""
    settings = settings or Settings()
    state = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loading reads weights from disk and builds the model: keep the event loop free meanwhile.
        gateway = await asyncio.to_thread(build_gateway, settings, state.variant_metrics)
        await gateway.start()
        state.gateway = gateway
        log.info("ready: models %s", ", ".join(f"{m.name} ({m.entry.backend})" for m in gateway.models.values()))
        try:
            yield
        finally:
            state.gateway = None
            await gateway.close()

    app = FastAPI(
        title="slmrank",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by routes/docs.py from local assets
        redoc_url=None,
    )
    app.state.service = state
    # Added innermost first: CatchAll wraps everything, the API key is checked before any body is read.
    app.add_middleware(StrictJsonMiddleware, max_depth=settings.max_json_depth)
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        discard_bytes=settings.discard_body_bytes,
    )
    app.add_middleware(AdmissionGate, state=state)
    app.add_middleware(ApiKeyMiddleware, keys=settings.api_key_set, metrics_port=settings.metrics_port)
    app.add_middleware(MetricsPortMiddleware, metrics_port=settings.metrics_port)
    app.add_middleware(CatchAllMiddleware)
    install_error_handlers(app)
    install_openapi_limits(app, settings)
    app.include_router(rank.router)
    app.include_router(rerank.router)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(models.router)
    install_docs(app)
    return app
