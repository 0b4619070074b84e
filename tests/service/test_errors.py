"""Every bad request gets a 4xx in the one error shape naming the field (and limit); the service keeps serving."""

import pytest

from tests.service.conftest import rank_body


def assert_error(r, status: int, field: str | None = None, limit=None) -> dict:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) >= {"code", "message", "details"}
    if field is not None:
        match = [d for d in err["details"] if d["field"] == field]
        assert match, err
        if limit is not None:
            assert match[0]["limit"] == limit
    return err


def test_no_candidates(client) -> None:
    assert_error(client.post("/rank", json=rank_body(0)), 422, "candidates", 1)


def test_too_many_candidates(client) -> None:
    assert_error(client.post("/rank", json=rank_body(17)), 422, "candidates", 16)


def test_blank_and_oversized_candidate_text(client) -> None:
    body = rank_body(2)
    body["candidates"][0]["text"] = "   "
    body["candidates"][1]["text"] = "x" * 201
    err = assert_error(client.post("/rank", json=body), 422, "candidates[1].text", 200)
    assert any(d["field"] == "candidates[0].text" for d in err["details"])


def test_empty_text_is_a_schema_error_naming_the_field(client) -> None:
    body = rank_body(1)
    body["candidates"][0]["text"] = ""
    assert_error(client.post("/rank", json=body), 422, "candidates[0].text", 1)


def test_duplicate_candidate_ids(client) -> None:
    body = rank_body(3)
    body["candidates"][2]["id"] = "m0"
    err = assert_error(client.post("/rank", json=body), 422, "candidates[2].id")
    assert "duplicate" in err["details"][0]["message"]


def test_unknown_task_names_the_known_ones(client) -> None:
    err = assert_error(client.post("/rank", json=rank_body(1, task="nope")), 422, "task")
    assert "like" in err["details"][0]["message"]


def test_too_much_history(client) -> None:
    body = rank_body(1)
    body["member"]["history"] = [{"item": "x", "action": "liked"}] * 51
    assert_error(client.post("/rank", json=body), 422, "member.history", 50)


def test_body_over_size_limit(client) -> None:
    body = rank_body(1)
    body["member"]["profile"] = "p" * 30_000
    assert_error(client.post("/rank", json=body), 413, "body", 20_000)


def test_streamed_body_over_size_limit_without_content_length(client) -> None:
    def chunks():
        yield b'{"member": {"id": "u", "profile": "'
        for _ in range(30):
            yield b"p" * 1000
        yield b'"}, "candidates": [{"id": "a", "text": "b"}]}'

    r = client.post("/rank", content=chunks(), headers={"content-type": "application/json"})
    assert_error(r, 413, "body", 20_000)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(top_n=0), "top_n"),
        (lambda b: b.update(top_n="ten"), "top_n"),
        (lambda b: b["candidates"].__setitem__(0, {"id": 5, "text": "x"}), "candidates[0].id"),
        (lambda b: b.update(candidates="m1,m2"), "candidates"),
        (lambda b: b["member"].pop("id"), "member.id"),
        (lambda b: b.update(score_type="softmax"), "score_type"),
        (lambda b: b.update(unexpected=1), "unexpected"),
        (
            lambda b: b["member"]["history"].append({"item": "x", "timestamp": "yesterday"}),
            "member.history[2].timestamp",
        ),
    ],
)
def test_wrong_types_name_the_field(client, mutate, field) -> None:
    body = rank_body(2)
    mutate(body)
    assert_error(client.post("/rank", json=body), 422, field)


def test_malformed_json_is_400(client) -> None:
    r = client.post("/rank", content=b'{"member": ', headers={"content-type": "application/json"})
    assert assert_error(r, 400)["code"] == "invalid_json"


def test_unknown_route_uses_the_error_shape(client) -> None:
    assert assert_error(client.get("/nope"), 404)["code"] == "not_found"


def test_service_keeps_serving_after_bad_requests(client) -> None:
    for _ in range(3):
        client.post("/rank", content=b"garbage", headers={"content-type": "application/json"})
        client.post("/rank", json=rank_body(0))
    assert client.post("/rank", json=rank_body(2)).status_code == 200
    assert client.get("/healthz").status_code == 200
