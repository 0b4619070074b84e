"""POST /rank on the real app and a real (tiny) engine: shape, ordering, and scores vs plain transformers."""

import pytest

from ranking.card import ModelCard
from ranking.labels import resolve_label_tokens
from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder
from tests.reference.plain_scorer import plain_label_logprobs, plain_probability
from tests.service.conftest import rank_body
from tests.tiny_checkpoint import TASKS
from tests.tolerances import TOLERANCE


def test_rank_returns_every_candidate_best_first(client) -> None:
    r = client.post("/rank", json=rank_body(5))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["member_id"] == "u42" and body["task"] == "like" and body["model"] == "tiny-random-qwen3"
    scores = [item["score"] for item in body["ranked"]]
    assert scores == sorted(scores, reverse=True)
    assert [item["rank"] for item in body["ranked"]] == [1, 2, 3, 4, 5]
    assert sorted(item["id"] for item in body["ranked"]) == [f"m{i}" for i in range(5)]
    assert body["usage"]["candidates"] == 5 and body["usage"]["history_shown"] == 2
    assert body["usage"]["prompt_tokens"] > 0 and body["usage"]["cached_tokens"] >= 0
    assert body["timing_ms"]["total"] >= body["timing_ms"]["engine"] > 0


@pytest.mark.parametrize("task", sorted(TASKS))
def test_scores_match_plain_transformers_forward(client, tiny_loaded, task) -> None:
    body = rank_body(4, task=task)
    r = client.post("/rank", json=body)
    assert r.status_code == 200, r.text
    got = {item["id"]: item["score"] for item in r.json()["ranked"]}
    # Rebuild the same prompts independently and score them one by one, no batching, no cache.
    m = body["member"]
    member = Member(m["id"], m["profile"], tuple(Interaction(**h) for h in m["history"]))
    builder = PromptBuilder(tiny_loaded.tokenizer, ModelCard.load(client.app.state.service.settings.model_dir).prompt)
    prompt = builder.build(member, [Candidate(c["id"], c["text"]) for c in body["candidates"]], TASKS[task])
    labels = resolve_label_tokens(tiny_loaded.tokenizer, TASKS[task], tiny_loaded.vocab_size)
    ref = plain_label_logprobs(tiny_loaded.model, [prompt.full_prompt(i) for i in range(4)], labels.ids)
    for i, cand in enumerate(body["candidates"]):
        assert got[cand["id"]] == pytest.approx(plain_probability(*ref[i]), abs=TOLERANCE["float32"])


def test_log_odds_agree_with_probabilities(client) -> None:
    prob = {i["id"]: i["score"] for i in client.post("/rank", json=rank_body(3)).json()["ranked"]}
    lo = {i["id"]: i["score"] for i in client.post("/rank", json=rank_body(3, score_type="log_odds")).json()["ranked"]}
    for cid, p in prob.items():
        assert p == pytest.approx(1 / (1 + pytest.importorskip("math").exp(-lo[cid])), abs=1e-6)


def test_top_n_and_metadata_passthrough(client) -> None:
    body = rank_body(6, top_n=2)
    body["candidates"][3]["metadata"] = {"source": "trending", "pos": 3}
    full = client.post("/rank", json={**body, "top_n": None}).json()["ranked"]
    top = client.post("/rank", json=body).json()["ranked"]
    assert [i["id"] for i in top] == [i["id"] for i in full[:2]]
    assert next(i for i in full if i["id"] == "m3")["metadata"] == {"source": "trending", "pos": 3}


def test_ties_keep_request_order(client) -> None:
    body = rank_body(1)
    body["candidates"] = [{"id": c, "text": "Same Movie (2000) | Drama"} for c in ("z", "a", "m")]
    ranked = client.post("/rank", json=body).json()["ranked"]
    assert [i["id"] for i in ranked] == ["z", "a", "m"]
    assert len({i["score"] for i in ranked}) == 1


def test_default_task_is_used_when_omitted(client) -> None:
    assert client.post("/rank", json=rank_body(1)).json()["task"] == "like"


def test_repeat_member_reports_more_cached_tokens(client) -> None:
    body = rank_body(4)
    body["member"]["id"] = "repeat-member"
    body["member"]["profile"] = "a profile no other test sends, so the first request is cold"
    first = client.post("/rank", json=body).json()["usage"]
    second = client.post("/rank", json=body).json()["usage"]
    assert first["prompt_tokens"] == second["prompt_tokens"]
    # Cold: candidates 2..k reuse the prefix the first computed; repeat: all k reuse it.
    assert second["cached_tokens"] > first["cached_tokens"] > 0
    metrics = client.get("/metrics").text
    assert "slmrank_engine_prefix_cache_hit_ratio" in metrics and "slmrank_engine_queue_depth" in metrics
