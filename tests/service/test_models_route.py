"""GET /v1/models lists the served model with its card; /rank names the model and variant; unknown model -> 422."""

from tests.service.conftest import rank_body


def test_models_lists_the_card(client) -> None:
    body = client.get("/v1/models").json()
    (model,) = body["data"]
    assert model["id"] == "tiny-random-qwen3" and model["backend"] == "embedded" and model["is_ready"]
    assert model["weight"] == 1.0 and not model["is_shadow"]
    card = model["card"]
    assert [t["name"] for t in card["tasks"]] == ["like", "love"]
    assert set(card["input"]) >= {"item", "action", "profile"} and card["prompt"]["max_prefix_len"] > 0


def test_openapi_description_links_the_models_list(client) -> None:
    assert "/v1/models" in client.get("/openapi.json").json()["info"]["description"]


def test_rank_names_model_and_variant(client) -> None:
    body = client.post("/rank", json=rank_body(2)).json()
    assert body["model"] == "tiny-random-qwen3" and body["variant"] == "tiny-random-qwen3"
    named = client.post("/rank", json=rank_body(2, model="tiny-random-qwen3")).json()
    assert named["variant"] == "requested" and named["ranked"] == body["ranked"]


def test_unknown_model_is_a_422_naming_the_field(client) -> None:
    r = client.post("/rank", json=rank_body(2, model="nope"))
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "model"


def test_rerank_member_key_is_a_hash_of_the_query() -> None:
    from service.routes.rerank import RerankRequest, as_rank_request

    one = as_rank_request(RerankRequest(query="data engineer in Berlin", documents=["a"]))
    two = as_rank_request(RerankRequest(query="nurse in Lyon", documents=["a"]))
    again = as_rank_request(RerankRequest(query="data engineer in Berlin", documents=["b"]))
    assert one.member.id != two.member.id and one.member.id == again.member.id
    assert "Berlin" not in one.member.id
