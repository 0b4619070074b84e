"""A model whose card shows similar-items rates: /rank needs one per task for each candidate (422 naming the field
otherwise), and its scores equal plain transformers on the text the template renders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ranking import prompt_template as tpl
from ranking.card import ModelCard
from ranking.prompt_builder import PromptConfig
from service.app import create_app
from tests.service.conftest import make_settings, rank_body
from tests.service.test_label_rates_route import ITEM_RATES, plain_scores, with_rates
from tests.tiny_checkpoint import TASKS, make_tiny_checkpoint

SIMILAR_RATES = [0.85, 0.2, 0.55]


@pytest.fixture(scope="module")
def similar_model(tmp_path_factory) -> Path:
    prompt = PromptConfig(max_prefix_len=512, label_rates=True, similar_rates=True)
    card = ModelCard("tiny-similar", tuple(TASKS.values()), prompt)
    return make_tiny_checkpoint(tmp_path_factory.mktemp("similar-model"), seed=6, card=card)


@pytest.fixture(scope="module")
def similar_client(similar_model: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(similar_model))) as c:
        yield c


def with_similar(body: dict, task: str = "like") -> dict:
    body = with_rates(body, task)
    for cand, rate in zip(body["candidates"], SIMILAR_RATES, strict=True):
        cand["similar_rates"] = {task: rate}
    return body


def test_missing_similar_rates_are_refused_naming_each_field(similar_client: TestClient) -> None:
    body = with_similar(rank_body(k=3))
    del body["candidates"][0]["similar_rates"]
    body["candidates"][2]["similar_rates"] = {"love": 0.3}
    del body["member"]["label_rates"]
    resp = similar_client.post("/rank", json=body)
    assert resp.status_code == 422
    fields = [d["field"] for d in resp.json()["error"]["details"]]
    assert fields == ["member.label_rates.like", "candidates[0].similar_rates.like", "candidates[2].similar_rates.like"]


def test_scores_equal_plain_transformers_on_the_rendered_text(similar_client: TestClient, similar_model: Path) -> None:
    body = with_similar(rank_body(k=3))
    resp = similar_client.post("/rank", json=body)
    assert resp.status_code == 200, resp.text
    got = {r["id"]: r["score"] for r in resp.json()["ranked"]}
    assert got == pytest.approx(plain_scores(similar_model, body, ITEM_RATES, SIMILAR_RATES), abs=1e-5)
    # The line is there: without it the plain scores are other scores.
    assert "\nRate on similar items: 85%" in tpl.suffix_text("x", "q", 0.1, SIMILAR_RATES[0])
    assert got != pytest.approx(plain_scores(similar_model, body, ITEM_RATES), abs=1e-4)
    # The similar rates reach the model: other values give other scores.
    moved = with_similar(rank_body(k=3))
    for cand in moved["candidates"]:
        cand["similar_rates"]["like"] = 1 - cand["similar_rates"]["like"]
    other = {r["id"]: r["score"] for r in similar_client.post("/rank", json=moved).json()["ranked"]}
    assert other != pytest.approx(got, abs=1e-4)


def test_a_card_with_similar_rates_but_no_label_rates_is_refused_in_one_line(tmp_path: Path) -> None:
    from ranking.card import CardError

    raw = ModelCard("m", tuple(TASKS.values()), PromptConfig(label_rates=True, similar_rates=True)).to_dict()
    raw["prompt"]["label_rates"] = False
    with pytest.raises(CardError, match="similar_rates needs label_rates"):
        ModelCard.from_dict(raw)
