"""A model whose card shows label rates: /rank needs a rate per task for the member and each candidate (422
naming the field otherwise), and its scores equal plain transformers on the text the template renders."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from transformers import AutoModelForCausalLM, AutoTokenizer

from ranking import prompt_template as tpl
from ranking.card import ModelCard
from ranking.prompt_builder import PromptConfig
from service.app import create_app
from tests.reference.plain_scorer import plain_label_logprobs, plain_probability
from tests.service.conftest import make_settings, rank_body
from tests.tiny_checkpoint import TASKS, make_tiny_checkpoint

MEMBER_RATE = 0.62
ITEM_RATES = [0.1, 0.48, 0.93]


@pytest.fixture(scope="module")
def rates_model(tmp_path_factory) -> Path:
    card = ModelCard("tiny-rates", tuple(TASKS.values()), PromptConfig(max_prefix_len=512, label_rates=True))
    return make_tiny_checkpoint(tmp_path_factory.mktemp("rates-model"), seed=5, card=card)


@pytest.fixture(scope="module")
def rates_client(rates_model: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(rates_model))) as c:
        yield c


def with_rates(body: dict, task: str = "like") -> dict:
    body["member"]["label_rates"] = {task: MEMBER_RATE}
    for cand, rate in zip(body["candidates"], ITEM_RATES, strict=True):
        cand["label_rates"] = {task: rate, "unused": 0}
    return body


def plain_scores(
    model_dir: Path, body: dict, item_rates: list[float], similar_rates: list[float] | None = None
) -> dict[str, float]:
    """P(yes) per candidate id from plain transformers on the text the template renders (rates as given)."""
    task = TASKS["like"]
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    member = body["member"]
    history = sorted(member["history"], key=lambda h: h["timestamp"])
    prefix = tpl.prefix_text(
        task.instruction, member["profile"], [(h["action"], h["item"]) for h in history], MEMBER_RATE
    )
    encode = lambda text: tokenizer.encode(text, add_special_tokens=False)  # noqa: E731
    label_ids = [encode(task.positive_label)[0], encode(task.negative_label)[0]]
    similar = similar_rates or [None] * len(item_rates)
    scores = {}
    for cand, rate, similar_rate in zip(body["candidates"], item_rates, similar, strict=True):
        suffix = tpl.suffix_text(cand["text"], task.question, rate, similar_rate)
        # Prefix and suffix are tokenized apart, as the builder does, so the token ids are the same.
        ids = [tokenizer.bos_token_id, *encode(prefix), *encode(suffix)]
        ((yes, no),) = plain_label_logprobs(model, [ids], label_ids)
        scores[cand["id"]] = plain_probability(yes, no)
    return scores


def test_missing_rates_are_refused_naming_each_field(rates_client: TestClient) -> None:
    body = with_rates(rank_body(k=3))
    del body["member"]["label_rates"]
    body["candidates"][1]["label_rates"] = {"love": 0.3}  # another task's rate only
    resp = rates_client.post("/rank", json=body)
    assert resp.status_code == 422
    fields = [d["field"] for d in resp.json()["error"]["details"]]
    assert fields == ["member.label_rates.like", "candidates[1].label_rates.like"]


@pytest.mark.parametrize("bad", [1.5, -0.1, "0.5", True])
def test_a_rate_outside_0_1_or_not_a_number_is_refused(rates_client: TestClient, bad) -> None:
    body = with_rates(rank_body(k=3))
    body["candidates"][2]["label_rates"]["like"] = bad
    resp = rates_client.post("/rank", json=body)
    assert resp.status_code == 422
    assert any("candidates" in d["field"] and "label_rates" in d["field"] for d in resp.json()["error"]["details"])


def test_scores_equal_plain_transformers_on_the_rendered_text(rates_client: TestClient, rates_model: Path) -> None:
    body = with_rates(rank_body(k=3))
    resp = rates_client.post("/rank", json=body)
    assert resp.status_code == 200, resp.text
    got = {r["id"]: r["score"] for r in resp.json()["ranked"]}
    assert got == pytest.approx(plain_scores(rates_model, body, ITEM_RATES), abs=1e-5)
    # The rates reach the model: other rates give other scores.
    moved = with_rates(rank_body(k=3))
    for cand in moved["candidates"]:
        cand["label_rates"]["like"] = 1 - cand["label_rates"]["like"]
    other = {r["id"]: r["score"] for r in rates_client.post("/rank", json=moved).json()["ranked"]}
    assert other != pytest.approx(got, abs=1e-4)


def test_a_model_without_rates_ignores_them(client: TestClient) -> None:
    plain = client.post("/rank", json=rank_body(k=3)).json()["ranked"]
    sent = client.post("/rank", json=with_rates(rank_body(k=3))).json()["ranked"]
    assert [(r["id"], r["score"]) for r in sent] == [(r["id"], r["score"]) for r in plain]


def test_the_card_keeps_the_setting_and_the_contract(rates_model: Path) -> None:
    card = ModelCard.load(rates_model)
    assert card.prompt.label_rates is True
    described = dataclasses.replace(card, input_contract=dataclasses.replace(card.input_contract, label_rates="x"))
    assert ModelCard.from_dict(described.to_dict()) == described
    assert ModelCard.from_dict(described.to_dict()).input_contract.label_rates == "x"
