"""Property-based tests from the OpenAPI schema (schemathesis, every check): no input gives a 5xx or a response
the schema does not describe, schema-valid requests are accepted and schema-invalid ones refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from service.app import create_app
from tests.service.conftest import make_settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import CHECKS, load_all_checks  # noqa: E402
from schemathesis.generation.modes import GenerationMode  # noqa: E402

# Bounded so the test command stays fast; bench/reliability_cpu.py runs >= 10,000 cases against the real server.
MAX_EXAMPLES = int(os.environ.get("SLMRANK_SCHEMATHESIS_EXAMPLES", "40"))
# max_response_time is a latency budget, not a correctness check (timing belongs in bench/).
EXCLUDED = {"max_response_time"}


def all_checks() -> list[Any]:
    """Every check schemathesis registers (what `--checks all` runs), less the latency budget."""
    load_all_checks()
    return [c for c in CHECKS.get_all() if getattr(c, "__name__", "") not in EXCLUDED]


def has_unique_ids(case: Any) -> bool:
    """Unique candidate ids: the one rule of /rank that JSON Schema cannot state (its description says it).
    Positive cases that break it are dropped; negative ones keep it, and it is refused with 422."""
    candidates = case.body.get("candidates") if isinstance(case.body, dict) else None
    if not isinstance(candidates, list):
        return True
    ids = [c.get("id") for c in candidates if isinstance(c, dict)]
    return len(ids) == len(set(map(repr, ids)))


@pytest.fixture(scope="module")
def api_schema(tiny_model_dir) -> Iterator[Any]:
    # A body limit over what generated cases reach: a 413 is a right answer that the negative-data check does
    # not count as a refusal (tests/service/test_connections.py covers 413).
    app = create_app(make_settings(tiny_model_dir, max_body_bytes=1_000_000))
    with TestClient(app):  # run the lifespan: the model is loaded and the schema lists its tasks
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_to_its_schema(api_schema, mode: GenerationMode) -> None:
    checks = all_checks()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/rank", "/v1/rerank", "/healthz", "/readyz", "/metrics"}
    if mode == GenerationMode.NEGATIVE:  # only a request body can be made schema-invalid here
        operations = [op for op in operations if op.method.upper() == "POST"]
    for operation in operations:
        strategy = operation.as_strategy(generation_mode=mode)
        if mode == GenerationMode.POSITIVE:
            strategy = strategy.filter(has_unique_ids)

        @given(case=strategy)
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: Any) -> None:
            case.call_and_validate(checks=checks)

        conforms()
