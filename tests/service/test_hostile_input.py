"""Inputs an outside tester found to give 500s or break the contract: each is a 4xx in the one error shape."""

import json
import logging

import pytest
from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.conftest import make_settings, rank_body
from tests.service.test_errors import assert_error

SECRET = "SECRET-BODY-TEXT-5e2d"


def post_raw(client, path: str, raw: bytes, headers: dict | None = None):
    return client.post(path, content=raw, headers={"content-type": "application/json", **(headers or {})})


def with_surrogate(body: dict) -> bytes:
    """The body as JSON with every '@@' replaced by a lone surrogate escape (json.dumps cannot write one)."""
    return json.dumps(body).replace("@@", "\\ud800").encode()


def test_empty_rerank_document_is_a_422_naming_it(client) -> None:
    r = post_raw(client, "/v1/rerank", b'{"query": "q", "documents": [""]}')
    err = assert_error(r, 422, "documents[0]")
    assert err["code"] == "invalid_request"


@pytest.mark.parametrize(
    ("where", "field"),
    [
        ("metadata", "candidates[0].metadata.x"),
        ("profile_key", "member.profile"),
        ("profile_value", "member.profile.k"),
    ],
)
def test_lone_surrogates_are_refused_as_invalid_json(client, where: str, field: str) -> None:
    body = rank_body(2)
    if where == "metadata":
        body["candidates"][0]["metadata"] = {"x": "@@"}
    elif where == "profile_key":
        body["member"]["profile"] = {"@@": "v"}
    else:
        body["member"]["profile"] = {"k": "@@"}
    err = assert_error(post_raw(client, "/rank", with_surrogate(body)), 400, field)
    assert err["code"] == "invalid_json"


def test_lone_surrogate_in_rerank_document_is_refused_and_never_logged(client, caplog) -> None:
    raw = json.dumps({"query": "q", "documents": [SECRET + "@@"]}).replace("@@", "\\ud800").encode()
    with caplog.at_level(logging.DEBUG):
        r = post_raw(client, "/v1/rerank", raw)
    assert_error(r, 400, "documents[0]")
    assert SECRET not in caplog.text
    assert SECRET not in r.text


def test_non_ascii_bearer_token_is_a_401(tiny_model_dir) -> None:
    with TestClient(create_app(make_settings(tiny_model_dir, api_keys="k1"))) as c:
        r = post_raw(c, "/rank", json.dumps(rank_body(1)).encode(), {"authorization": "Bearer \u00e9t\u00e9".encode()})
        assert_error(r, 401)
        # The key is checked before the body is read: even a malformed body gets 401, not 400.
        assert_error(post_raw(c, "/rank", b"{not json"), 401)
        for path in ("/metrics", "/openapi.json", "/docs"):
            assert c.get(path).status_code == 401, path
        assert c.get("/metrics", headers={"authorization": "Bearer k1"}).status_code == 200


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"member": {"id": "\xff\xfe"}, "candidates": []}', "UTF-8"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'{"member": {"id": "u"}, "candidates": [], "top_n": ' + b"9" * 5000 + b"}", "digits"),
        (b'{"member": {"id": "u"}, "candidates": [], "top_n": 1e999}', "overflows"),
        (b'{"member": {"id": "u"}, "candidates": [{"id": "a", "text": "t", "metadata": {"x": NaN}}]}', "NaN"),
        (b'{"member": {"id": "u"}, "candidates": [{"id": "a", "text": "t", "metadata": {"x": -Infinity}}]}', "Inf"),
        (b"{bad", "syntax"),
    ],
)
def test_non_strict_json_is_a_400_invalid_json_with_details(client, raw: bytes, message: str) -> None:
    err = assert_error(post_raw(client, "/rank", raw), 400, "body")
    assert err["code"] == "invalid_json"
    assert message in err["details"][0]["message"]


def test_boolean_timestamp_and_top_n_are_refused(client) -> None:
    body = rank_body(2)
    body["member"]["history"][0]["timestamp"] = False
    assert_error(client.post("/rank", json=body), 422, "member.history[0].timestamp")
    assert_error(client.post("/rank", json=rank_body(2, top_n=True)), 422, "top_n")


def test_405_names_the_allowed_methods(client) -> None:
    r = client.get("/rank")
    assert_error(r, 405)
    assert r.headers["allow"] == "POST"


def test_engine_outage_is_a_503_with_its_own_code_and_retry_after(tiny_model_dir) -> None:
    with TestClient(create_app(make_settings(tiny_model_dir))) as c:
        scorer = c.app.state.service.ranker.scorer
        scorer._ready = False  # what an embedded engine reports once stopped; a remote one with no healthy replica
        try:
            r = c.post("/rank", json=rank_body(1))
        finally:
            scorer._ready = True
    err = assert_error(r, 503)
    assert err["code"] == "engine_unavailable" and "loading" not in err["message"]
    assert int(r.headers["retry-after"]) > 0


def test_openapi_states_the_configured_limits(client) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["RankRequest"]["properties"]["candidates"]["maxItems"] == 16
    assert schemas["RankRequest"]["properties"]["candidates"]["minItems"] == 1
    assert schemas["CandidateIn"]["properties"]["text"]["maxLength"] == 200
    assert schemas["MemberIn"]["properties"]["history"]["maxItems"] == 50
    assert schemas["RerankRequest"]["properties"]["documents"]["maxItems"] == 16
    assert schemas["RankRequest"]["properties"]["task"]["anyOf"][0]["enum"] == ["like", "love"]


def test_text_the_schema_calls_blank_is_refused_and_other_text_is_not(client) -> None:
    body = rank_body(2)
    body["candidates"][0]["text"] = "\x1c \u3000"  # whitespace to both Python and ECMA regexes
    body["candidates"][1]["text"] = "\ufeffx"
    err = assert_error(client.post("/rank", json=body), 422, "candidates[0].text")
    assert [d["field"] for d in err["details"]] == ["candidates[0].text"]


def test_an_unexpected_error_is_a_500_logged_without_its_message(tiny_model_dir, caplog) -> None:
    app = create_app(make_settings(tiny_model_dir))

    @app.get("/boom")
    async def boom() -> None:
        raise ValueError(f"input_value='{SECRET}'")

    with TestClient(app, raise_server_exceptions=False) as c, caplog.at_level(logging.DEBUG):
        r = c.get("/boom")
    err = assert_error(r, 500)
    assert err["code"] == "internal_error"
    assert "ValueError" in caplog.text and "boom" in caplog.text
    assert SECRET not in caplog.text


def test_an_empty_task_is_refused_not_taken_for_the_default(client) -> None:
    err = assert_error(client.post("/rank", json=rank_body(1, task="")), 422, "task")
    assert "known tasks" in err["details"][0]["message"]
