"""The gateway target against a fake /rank: body shape, usage and timing read back."""

from __future__ import annotations

import asyncio
import json

import httpx

from loadtest.gateway_target import GatewayTarget
from loadtest.movielens import MovieLens
from loadtest.workload import Workload, WorkloadConfig
from tests.loadtest.conftest import fake_gateway
from tests.loadtest.demo_task import DEMO_TASK


def test_rank_round_trip(movielens: MovieLens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=5, context_tokens=200)).next_item()
    target = GatewayTarget("http://svc")
    seen = {}
    handle = fake_gateway(prompt_tokens_per_candidate=90)

    def handler(request: httpx.Request) -> httpx.Response:
        seen["path"], seen["body"] = request.url.path, json.loads(request.content)
        return handle(request)

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await target.send(client, target.encode(item), 5)

    out = asyncio.run(go())
    assert out.is_ok and out.prompt_tokens == 450 and out.cached_tokens == 7
    assert out.engine_ms == 3.5 and out.model == "fake"
    assert seen["path"] == "/rank"
    body = seen["body"]
    assert body["task"] == "like" and body["top_n"] == 5 and len(body["candidates"]) == 5
    assert set(body["member"]) == {"id", "profile", "history", "label_rates"}
    assert all(set(h) == {"item", "action", "timestamp"} for h in body["member"]["history"])


def test_a_model_name_is_sent_as_the_requests_model(movielens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=2, context_tokens=200)).next_item()
    assert GatewayTarget("http://x", model="canary").body(item)["model"] == "canary"
    assert "model" not in GatewayTarget("http://x").body(item)
