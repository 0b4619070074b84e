"""One error shape for every 4xx/5xx, and the handlers that produce it. Internal exception text never leaks."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ranking.scorer import ScorerError, ScorerOverloadedError, ScorerTimeoutError, ScorerUnavailableError
from service.schemas import ErrorBody, ErrorDetail, ErrorResponse

log = logging.getLogger(__name__)

# Pydantic constraint names that carry the limit a client broke.
_LIMIT_KEYS = ("max_length", "min_length", "ge", "gt", "le", "lt", "limit_value")


class RequestRejectedError(Exception):
    """A request the service refuses on purpose (limits, auth, unknown task), with its status and details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.retry_after_s = retry_after_s


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The JSON body every error uses."""
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details or []))
    return JSONResponse(status_code=status, content=body.model_dump(exclude_none=True), headers=headers)


def field_path(loc: tuple[Any, ...]) -> str:
    """('body', 'candidates', 3, 'id') -> 'candidates[3].id'."""
    # Union members ('constrained-str', 'RerankDocument', 'function-after[...]') are not fields the client sent.
    parts = [p for p in loc if p != "body" and not (isinstance(p, str) and (p[:1].isupper() or "-" in p))]
    path = ""
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def pydantic_details(errors: Sequence[Any]) -> list[ErrorDetail]:
    """Pydantic error dicts -> details naming field, constraint and limit (never the input value)."""
    details = []
    for err in errors:
        ctx = err.get("ctx") or {}
        limit = next((ctx[k] for k in _LIMIT_KEYS if isinstance(ctx.get(k), int | float)), None)
        details.append(ErrorDetail(field=field_path(tuple(err.get("loc", ()))), message=err["msg"], limit=limit))
    return details


def validation_details(exc: RequestValidationError) -> tuple[int, str, list[ErrorDetail]]:
    """Pydantic errors -> (status, code, details); malformed JSON is a 400, the rest 422."""
    details = []
    is_json_error = False
    for err in exc.errors():
        is_json_error |= err.get("type") == "json_invalid"
        ctx = err.get("ctx") or {}
        limit = next((ctx[k] for k in _LIMIT_KEYS if isinstance(ctx.get(k), int | float)), None)
        # Pydantic's messages describe the constraint, never echo the input value.
        details.append(ErrorDetail(field=field_path(tuple(err.get("loc", ()))), message=err["msg"], limit=limit))
    if is_json_error:
        return 400, "invalid_json", details
    return 422, "invalid_request", details


async def _on_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    status, code, details = validation_details(exc)
    request.app.state.service.metrics.errors.labels(reason=code).inc()
    return error_response(status, code, "request body is not valid", details)


async def _on_rejected(request: Request, exc: RequestRejectedError) -> JSONResponse:
    request.app.state.service.metrics.errors.labels(reason=exc.code).inc()
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after_s is not None:
        headers["Retry-After"] = str(exc.retry_after_s)
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


def scorer_error_response(exc: ScorerError) -> tuple[int, str, str, dict[str, str] | None]:
    """Engine failures -> (status, code, client message, headers)."""
    if isinstance(exc, ScorerOverloadedError):
        return 503, "overloaded", "the engine is at capacity; retry shortly", {"Retry-After": "1"}
    if isinstance(exc, ScorerTimeoutError):
        return 504, "deadline_exceeded", "scoring did not finish within the request deadline", None
    if isinstance(exc, ScorerUnavailableError):
        return 503, "engine_unavailable", "no engine can score right now", {"Retry-After": "2"}
    return 502, "engine_error", "the engine failed to score this request", None


async def _on_scorer_error(request: Request, exc: ScorerError) -> JSONResponse:
    status, code, message, headers = scorer_error_response(exc)
    # Shed and late requests are expected under load: counted in metrics, not logged one by one.
    level = logging.DEBUG if status in (503, 504) else logging.WARNING
    log.log(level, "scoring failed: %s (%s)", code, type(exc).__name__)
    request.app.state.service.metrics.errors.labels(reason=code).inc()
    return error_response(status, code, message, headers=headers)


async def _on_http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    # Starlette's 405 carries `Allow`; keep every header the exception names.
    return error_response(exc.status_code, code, str(exc.detail), headers=dict(exc.headers or {}))


def install_error_handlers(app: FastAPI) -> None:
    """Route every failure through the one error shape."""
    app.add_exception_handler(RequestValidationError, _on_validation)  # type: ignore[arg-type]
    app.add_exception_handler(RequestRejectedError, _on_rejected)  # type: ignore[arg-type]
    app.add_exception_handler(ScorerError, _on_scorer_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _on_http)  # type: ignore[arg-type]
    # Anything else reaches CatchAllMiddleware, which answers 500 and logs without the exception's message.
