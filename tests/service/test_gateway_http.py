"""Two models behind one gateway over real HTTP — the tiny model and its FP8 compressed-tensors export: weighted
sticky split, named models, shadow, per-variant metrics."""

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

WEIGHTS = {"control": 70.0, "candidate": 30.0}
SALT = "test-ab"
NUM_MEMBERS = 120


def fp8_export(model_dir: Path, out: Path) -> Path:
    """The FP8 (dynamic, no calibration) compressed-tensors export of `model_dir`, card and tokenizer copied."""
    import torch
    from transformers import AutoModelForCausalLM

    from compression.export import export_compressed
    from compression.quantize import QuantizeConfig, quantize_model

    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    config = QuantizeConfig(scheme="fp8_dynamic")
    return export_compressed(model, quantize_model(model, [], config), config.to_scheme(), out, source_dir=model_dir)


@pytest.fixture(scope="module")
def gateway_url(tiny_model_dir: Path, tmp_path_factory):
    other = fp8_export(tiny_model_dir, tmp_path_factory.mktemp("fp8-export"))
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
        dense = client.post("/rank", json=member_body(0, model="control")).json()
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
    scores = {m: [r["score"] for r in sorted(b["ranked"], key=lambda r: r["id"])] for m, b in [("fp8", named[0]),
              ("dense", dense)]}  # fmt: skip
    assert scores["fp8"] != scores["dense"] and scores["fp8"] == pytest.approx(scores["dense"], abs=0.1)  # two models
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
    shadowed = sum(r["model"] == "control" for r in [*first, *again, dense])
    assert metric(text, "slmrank_shadow_requests_total", model="candidate", primary="control", status="ok") == shadowed
    assert metric(text, "slmrank_shadow_requests_total", primary="candidate") == 0
    assert metric(text, "slmrank_shadow_rank_correlation_count", model="candidate") == shadowed
