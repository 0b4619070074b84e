"""Two models behind one gateway over real HTTP: weighted sticky split, named models, shadow, per-variant metrics."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from ranking.variant_policy import VariantPolicy
from tests.live_server import live_server
from tests.service.conftest import rank_body
from tests.tiny_checkpoint import make_tiny_checkpoint

WEIGHTS = {"control": 70.0, "candidate": 30.0}
SALT = "test-ab"
NUM_MEMBERS = 120


@pytest.fixture(scope="module")
def gateway_url(tiny_model_dir: Path, tmp_path_factory):
    other = make_tiny_checkpoint(tmp_path_factory.mktemp("second-model"), seed=1)
    config = {
        "salt": SALT,
        "models": [
            {"name": "control", "model_dir": str(tiny_model_dir), "weight": WEIGHTS["control"]},
            {"name": "candidate", "model_dir": str(other), "weight": WEIGHTS["candidate"]},
        ],
        "shadow": {"model": "candidate", "fraction": 1.0, "max_in_flight": 64},
    }
    path = tmp_path_factory.mktemp("ab") / "models.json"
    path.write_text(json.dumps(config))
    env = {"SLMRANK_MODELS_FILE": str(path), "SLMRANK_MAX_CANDIDATES": "16"}
    with live_server(tiny_model_dir, tmp_path_factory.mktemp("serve") / "serve.log", env=env) as url:
        yield url


def member_body(i: int, **extra) -> dict:
    body = rank_body(2, **extra)
    body["member"]["id"] = f"member-{i}"
    return body


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(rf"^{name}{{(.*)}} (\S+)$", line)
        if match and all(f'{k}="{v}"' in match.group(1) for k, v in labels.items()):
            total += float(match.group(2))
    return total


def test_two_models_split_by_weight_sticky_with_shadow_and_metrics(gateway_url: str) -> None:
    models = httpx.get(f"{gateway_url}/v1/models", timeout=10).json()["data"]
    assert [(m["id"], m["weight"], m["is_shadow"]) for m in models] == [
        ("control", 0.7, False), ("candidate", pytest.approx(0.3), True)]  # fmt: skip
    policy = VariantPolicy.from_mapping(WEIGHTS, SALT)
    with httpx.Client(base_url=gateway_url, timeout=30) as client:
        first = [client.post("/rank", json=member_body(i)).json() for i in range(NUM_MEMBERS)]
        again = [client.post("/rank", json=member_body(i)).json() for i in range(0, NUM_MEMBERS, 4)]
        named = [client.post("/rank", json=member_body(i, model="candidate")).json() for i in range(8)]
        refused = client.post("/rank", json=member_body(0, task="no-such-task"))
        time.sleep(1.0)  # shadow scorings finish off the response path
        text = client.get("/metrics").text
    # every member gets the policy's variant (the policy's split is tested on 10,000 ids) and keeps it
    assert [r["variant"] for r in first] == [policy.assign(f"member-{i}") for i in range(NUM_MEMBERS)]
    assert all(r["model"] == r["variant"] for r in first)
    assert [r["variant"] for r in again] == [first[i]["variant"] for i in range(0, NUM_MEMBERS, 4)]
    assert [r["ranked"] for r in again] == [first[i]["ranked"] for i in range(0, NUM_MEMBERS, 4)]
    counts = Counter(r["variant"] for r in first)
    assert counts["control"] > counts["candidate"] > 0
    # a named model is served whatever the policy says
    assert {(r["model"], r["variant"]) for r in named} == {("candidate", "requested")}
    # per-variant metrics count exactly what was served
    for variant in WEIGHTS:
        served = sum(r["variant"] == variant for r in first + again)
        assert metric(text, "slmrank_model_requests_total", model=variant, variant=variant, status="ok") == served
        assert metric(text, "slmrank_model_candidates_total", model=variant, variant=variant) == 2 * served
        assert metric(text, "slmrank_model_latency_seconds_count", model=variant, variant=variant) == served
    assert metric(text, "slmrank_model_requests_total", model="candidate", variant="requested") == len(named)
    assert refused.status_code == 422  # a refused request counts as an error of its variant
    assert metric(text, "slmrank_model_requests_total", variant=first[0]["variant"], status="invalid_request") == 1
    assert metric(text, "slmrank_model_prompt_tokens_total", variant="control") > 0
    # the shadow scored control's requests (never its own) and recorded how it compares
    shadowed = sum(r["variant"] == "control" for r in first + again)
    assert metric(text, "slmrank_shadow_requests_total", model="candidate", primary="control", status="ok") == shadowed
    assert metric(text, "slmrank_shadow_requests_total", primary="candidate") == 0
    assert metric(text, "slmrank_shadow_rank_correlation_count", model="candidate") == shadowed
