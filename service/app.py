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
from service.engine_factory import build_ranker
from service.errors import install_error_handlers
from service.metrics_port import MetricsPortMiddleware
from service.openapi_limits import install_openapi_limits
from service.routes import health, metrics, rank, rerank
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
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """The service for `settings` (read from SLMRANK_* environment variables when omitted)."""
    settings = settings or Settings()
    state = ServiceState(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loading reads weights from disk and builds the model: keep the event loop free meanwhile.
        ranker = await asyncio.to_thread(build_ranker, settings)
        await ranker.scorer.start()
        state.ranker = ranker
        log.info("ready: model %s on backend %s", ranker.model_name, settings.backend)
        try:
            yield
        finally:
            state.ranker = None
            await ranker.scorer.close()

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
    install_docs(app)
    return app
