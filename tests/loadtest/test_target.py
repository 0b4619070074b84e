"""Errors are classified, never raised: status codes with the gateway's error code, timeouts, bad bodies."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from loadtest.gateway_target import GatewayTarget
from loadtest.movielens import MovieLens
from loadtest.workload import Workload, WorkloadConfig
from tests.loadtest.demo_task import DEMO_TASK


def send(handler, k: int = 2, api_key: str | None = None):
    target = GatewayTarget("http://svc", api_key=api_key)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await target.send(client, b"{}", k)

    return asyncio.run(go())


def test_http_error_carries_status_and_code() -> None:
    out = send(lambda r: httpx.Response(503, json={"error": {"code": "overloaded", "message": "busy"}}))
    assert not out.is_ok and out.status == 503 and out.error == "http_503:overloaded"
    assert send(lambda r: httpx.Response(500, text="boom")).error == "http_500"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ReadTimeout("t"), "timeout"),
        (httpx.ConnectError("c"), "connect"),
        (httpx.RemoteProtocolError("p"), "transport:RemoteProtocolError"),
    ],
)
def test_transport_failures(exc: Exception, kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    assert send(handler).error == kind


def test_bad_bodies_are_bad_responses() -> None:
    assert send(lambda r: httpx.Response(200, text="not json")).error == "bad_response"
    one_score = {"ranked": [{"id": "a", "score": 0.1, "rank": 1}]}
    assert send(lambda r: httpx.Response(200, json=one_score), k=2).error == "bad_response"


def test_api_key_is_sent_as_bearer() -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        seen["auth"] = request.headers.get("authorization")
        return httpx.Response(401, json={"error": {"code": "unauthorized", "message": "no"}})

    assert send(handler, api_key="s3cret").error == "http_401:unauthorized"
    assert seen["auth"] == "Bearer s3cret"


def test_encode_is_compact_json_of_the_body(movielens: MovieLens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=2, context_tokens=128)).next_item()
    target = GatewayTarget("http://svc/")
    assert target.url == "http://svc/rank"
    assert httpx.Response(200, content=target.encode(item)).json() == item.rank_body()
