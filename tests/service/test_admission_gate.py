"""Admission control before the body is read, and the drain after SIGTERM, on the real app."""

from tests.service.conftest import rank_body
from tests.service.test_errors import assert_error


def test_over_the_in_flight_cap_is_503_at_once_without_reading_the_body(client) -> None:
    state = client.app.state.service
    state.num_admitted = state.settings.max_in_flight  # as if that many requests were being served
    try:
        r = client.post("/rank", content=b"{not even json", headers={"content-type": "application/json"})
        rerank = client.post("/v1/rerank", json={"query": "q", "documents": ["a"]})
        health = client.get("/healthz")
    finally:
        state.num_admitted = 0
    err = assert_error(r, 503)
    assert err["code"] == "overloaded" and r.headers["retry-after"] == "1"
    assert assert_error(rerank, 503)["code"] == "overloaded"
    assert health.status_code == 200  # probes are never shed
    assert 'slmrank_shed_total{reason="in_flight"} 2.0' in client.get("/metrics").text
    assert client.post("/rank", json=rank_body(1)).status_code == 200  # and the slot count is back


def test_draining_readyz_is_503_and_responses_close_the_connection(client) -> None:
    state = client.app.state.service
    assert client.get("/readyz").status_code == 200
    state.is_draining = True
    try:
        ready = client.get("/readyz")
        served = client.post("/rank", json=rank_body(1))
    finally:
        state.is_draining = False
    assert ready.status_code == 503 and ready.json()["status"] == "draining"
    assert ready.headers["connection"] == "close"
    assert served.status_code == 200 and served.headers["connection"] == "close"


def test_over_the_in_flight_candidate_budget_is_503_before_scoring(client) -> None:
    state = client.app.state.service
    state.num_candidates = state.settings.max_in_flight_candidates  # as if that many were being scored
    try:
        r = client.post("/rank", json=rank_body(2))
    finally:
        state.num_candidates = 0
    err = assert_error(r, 503)
    assert err["code"] == "overloaded" and r.headers["retry-after"] == "1"
    assert 'slmrank_shed_total{reason="candidates"} 1.0' in client.get("/metrics").text
    assert client.post("/rank", json=rank_body(2)).status_code == 200
    assert state.num_candidates == 0  # released after scoring
