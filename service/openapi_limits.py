"""The OpenAPI schema with this deployment's real limits (from Settings), so schema-valid requests are accepted."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from service.admission import NOT_BLANK_PATTERN
from service.settings import Settings


def _text(limit: int) -> dict[str, Any]:
    return {"minLength": 1, "maxLength": limit, "pattern": NOT_BLANK_PATTERN}


def limit_patches(settings: Settings) -> dict[str, dict[str, dict[str, Any]]]:
    """schema name -> property -> JSON-schema keywords to set."""
    s = settings
    return {
        "RankRequest": {"candidates": {"minItems": 1, "maxItems": s.max_candidates}},
        "CandidateIn": {"id": _text(s.max_id_chars), "text": _text(s.max_candidate_chars)},
        "MemberIn": {"id": _text(s.max_id_chars), "history": {"maxItems": s.max_history_items}},
        "InteractionIn": {"item": _text(s.max_item_chars), "action": _text(s.max_item_chars)},
        "RerankDocument": {"text": _text(s.max_candidate_chars)},
        "RerankRequest": {
            "query": _text(s.max_profile_chars),
            "documents": {"minItems": 1, "maxItems": s.max_candidates},
        },
    }


def _apply(
    schema: dict[str, Any], settings: Settings, tasks: list[str] | None, models: list[str] | None
) -> dict[str, Any]:
    components = schema.get("components", {}).get("schemas", {})
    for name, props in limit_patches(settings).items():
        model = components.get(name)
        if model is None:
            continue
        for prop, keywords in props.items():
            model["properties"][prop].update(keywords)
    member = components.get("MemberIn")
    if member is not None:
        member["properties"]["profile"]["anyOf"][0]["maxLength"] = settings.max_profile_chars
    rerank = components.get("RerankRequest")
    if rerank is not None:
        rerank["properties"]["documents"]["items"]["anyOf"][0].update(_text(settings.max_candidate_chars))
    for name in ("RankRequest", "RerankRequest"):
        props = components.get(name, {}).get("properties", {})
        if tasks and "task" in props:
            props["task"]["anyOf"][0]["enum"] = tasks
        if models and "model" in props and "anyOf" in props["model"]:
            props["model"]["anyOf"][0]["enum"] = models
    return schema


def install_openapi_limits(app: FastAPI, settings: Settings) -> None:
    """Replace app.openapi with a schema carrying the limits (cached once the model is loaded)."""

    def openapi() -> dict[str, Any]:
        gateway = app.state.service.gateway
        models = list(gateway.models) if gateway is not None else None
        tasks = None
        if gateway is not None:
            tasks = list(dict.fromkeys(t for m in gateway.models.values() for t in m.ranker.tasks))
        if app.openapi_schema is None or tasks is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            # The known tasks and models are listed once the models (and their cards) are loaded.
            app.openapi_schema = _apply(schema, settings, tasks, models)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
