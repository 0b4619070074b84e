"""The schemathesis phase of bench/reliability_cpu.py: >= N cases against a live server, every response checked."""

from __future__ import annotations

from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.generation.modes import GenerationMode

EXCLUDED = {"max_response_time"}  # a latency budget, not correctness


def _unique_ids(case: Any) -> bool:
    """Unique candidate ids: the one rule JSON Schema cannot state (positive cases that break it are dropped)."""
    candidates = case.body.get("candidates") if isinstance(case.body, dict) else None
    if not isinstance(candidates, list):
        return True
    ids = [repr(c.get("id")) for c in candidates if isinstance(c, dict)]
    return len(ids) == len(set(ids))


def _checked(
    strategy: Any,
    n: int,
    url: str,
    checks: list[Any],
    label: str,
    statuses: Counter,
    violations: Counter,
    examples: dict[str, str],
) -> Any:
    """A hypothesis test over `n` cases that counts statuses and violations instead of stopping at the first."""

    @given(case=strategy)
    @settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def one(case: Any) -> None:
        response = case.call(base_url=url)
        statuses[response.status_code] += 1
        try:
            case.validate_response(response, checks=checks)
        except Exception as exc:  # a violation is counted, and generation goes on
            key = f"{label}: {type(exc).__name__}"
            violations[key] += 1
            examples.setdefault(key, str(exc)[:600])

    return one


def run_schemathesis(url: str, total: int) -> dict[str, Any]:
    """Run about `total` cases (POST operations get most, both data modes) and count statuses and violations."""
    load_all_checks()
    checks = [c for c in CHECKS.get_all() if getattr(c, "__name__", "") not in EXCLUDED]
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    posts = [op for op in operations if op.method.upper() == "POST"]
    gets = [op for op in operations if op.method.upper() != "POST"]
    per_get = 50  # GET operations without parameters yield one distinct case each, whatever this says
    per_post = -(-total // (2 * len(posts)))  # the POST operations alone reach `total`
    statuses: Counter = Counter()
    violations: Counter = Counter()
    examples: dict[str, str] = {}
    plan = [(op, GenerationMode.POSITIVE, per_post) for op in posts]
    plan += [(op, GenerationMode.NEGATIVE, per_post) for op in posts]
    plan += [(op, GenerationMode.POSITIVE, per_get) for op in gets]
    for op, mode, n in plan:
        strategy = op.as_strategy(generation_mode=mode)
        if mode == GenerationMode.POSITIVE:
            strategy = strategy.filter(_unique_ids)
        label = f"{op.method.upper()} {op.path} {mode.value}"
        try:
            _checked(strategy, n, url, checks, label, statuses, violations, examples)()
        except Exception as exc:  # hypothesis stops an operation at a failure it re-raises: record it, go on
            key = f"{label}: {type(exc).__name__} (stopped this operation)"
            violations[key] += 1
            examples.setdefault(key, str(exc)[:600])
    return {
        "cases": sum(statuses.values()),
        "statuses": dict(sorted(statuses.items())),
        "server_errors_5xx": sum(v for k, v in statuses.items() if k >= 500),
        "violations": dict(violations),
        "violation_examples": examples,
    }
