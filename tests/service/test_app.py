"""Health, readiness, metrics, OpenAPI, API keys and privacy of logs on the real app."""

import logging

from fastapi.testclient import TestClient

from service.app import create_app
from tests.service.conftest import make_settings, rank_body


def test_health_and_readiness(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "model": None, "backend": None}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_readyz_is_503_before_the_model_is_loaded(tiny_model_dir) -> None:
    client = TestClient(create_app(make_settings(tiny_model_dir)))  # no `with`: lifespan not run
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["status"] == "loading"
    r = client.post("/rank", json=rank_body(1))
    assert r.status_code == 503 and r.json()["error"]["code"] == "not_ready"


def test_metrics_count_requests_candidates_and_errors(client) -> None:
    client.post("/rank", json=rank_body(3))
    client.post("/rank", json=rank_body(0))
    text = client.get("/metrics").text
    for name in (
        "slmrank_request_latency_seconds_bucket",
        "slmrank_candidates_per_request_bucket",
        'slmrank_errors_total{reason="invalid_request"}',
        "slmrank_requests_in_flight",
        "slmrank_prompt_tokens_total",
    ):
        assert name in text, name


def test_openapi_documents_rank_and_its_errors(client) -> None:
    spec = client.get("/openapi.json").json()
    op = spec["paths"]["/rank"]["post"]
    assert {"200", "413", "422", "503", "504"} <= set(op["responses"])
    assert "RankRequest" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_api_keys_are_enforced_when_configured(tiny_model_dir) -> None:
    with TestClient(create_app(make_settings(tiny_model_dir, api_keys="k1,k2"))) as c:
        assert c.post("/rank", json=rank_body(1)).status_code == 401
        assert c.post("/rank", json=rank_body(1), headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.post("/rank", json=rank_body(1), headers={"Authorization": "Bearer k2"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes need no key


def test_member_data_never_reaches_the_logs(client, caplog) -> None:
    secret_profile = "SECRET-PROFILE-7c1f"
    body = rank_body(2)
    body["member"]["profile"] = secret_profile
    body["member"]["history"][0]["item"] = "SECRET-ITEM-91ab"
    with caplog.at_level(logging.DEBUG):
        client.post("/rank", json=body)
        body["candidates"] = []
        client.post("/rank", json=body)  # an error path logs too
    assert "SECRET" not in caplog.text


def test_docs_load_swagger_ui_from_local_assets(client) -> None:
    html = client.get("/docs").text
    assert "cdn." not in html and "https://" not in html
    assert "/docs-assets/swagger-ui-bundle.js" in html
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
