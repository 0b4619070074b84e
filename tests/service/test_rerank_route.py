"""POST /v1/rerank is /rank seen through the Cohere/Jina rerank shape."""

import pytest


def test_rerank_matches_rank_for_the_same_prompts(client) -> None:
    docs = ["Heat (1995) | Action|Crime", "Toy Story (1995) | Animation", "Fargo (1996) | Crime|Drama"]
    r = client.post("/v1/rerank", json={"query": "likes crime dramas", "documents": docs, "return_documents": True})
    assert r.status_code == 200, r.text
    body = r.json()
    rank = client.post(
        "/rank",
        json={
            "member": {"id": "rerank", "profile": "likes crime dramas"},
            "candidates": [{"id": str(i), "text": t} for i, t in enumerate(docs)],
        },
    ).json()
    assert [x["index"] for x in body["results"]] == [int(x["id"]) for x in rank["ranked"]]
    for res, ranked in zip(body["results"], rank["ranked"], strict=True):
        assert res["relevance_score"] == pytest.approx(ranked["score"], abs=1e-6)
        assert res["document"]["text"] == docs[res["index"]]
    assert body["usage"]["total_tokens"] == rank["usage"]["prompt_tokens"]


def test_rerank_accepts_text_objects_and_top_n(client) -> None:
    r = client.post("/v1/rerank", json={"query": "q", "documents": [{"text": "a"}, {"text": "b"}], "top_n": 1})
    assert r.status_code == 200 and len(r.json()["results"]) == 1 and r.json()["results"][0]["document"] is None


def test_rerank_limits_use_the_error_shape(client) -> None:
    r = client.post("/v1/rerank", json={"query": "q", "documents": ["x"] * 17})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "documents"


def test_rerank_errors_name_documents(client) -> None:
    r = client.post("/v1/rerank", json={"query": "q", "documents": ["ok", "x" * 201]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "documents[1]"
