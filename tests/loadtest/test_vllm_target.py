"""The vLLM /v1/completions target against a fake server: model discovery, usage and cached tokens."""

from __future__ import annotations

import asyncio
import json

import httpx

from loadtest.movielens import MovieLens
from loadtest.vllm_target import VLLMTarget
from loadtest.workload import Workload, WorkloadConfig
from tests.loadtest.demo_task import DEMO_TASK


def fake_vllm(request: httpx.Request) -> httpx.Response:
    if request.url.path == "/v1/models":
        return httpx.Response(200, json={"object": "list", "data": [{"id": "served-model"}]})
    body = json.loads(request.content)
    assert request.url.path == "/v1/completions" and body["max_tokens"] == 1
    assert body["model"] == "served-model"
    choices = [{"index": i, "text": " No", "finish_reason": "length"} for i, _ in enumerate(body["prompt"])]
    usage = {"prompt_tokens": 321, "completion_tokens": len(choices), "prompt_tokens_details": {"cached_tokens": 256}}
    return httpx.Response(200, json={"model": body["model"], "choices": choices, "usage": usage})


def test_completions_round_trip(movielens: MovieLens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=4, context_tokens=200)).next_item()
    target = VLLMTarget("http://engine:8000")

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake_vllm)) as client:
            await target.prepare(client)
            return await target.send(client, target.encode(item), 4)

    out = asyncio.run(go())
    assert target.model == "served-model"
    assert out.is_ok and out.prompt_tokens == 321 and out.cached_tokens == 256 and out.model == "served-model"
    assert out.engine_ms is None


def test_wrong_number_of_choices_is_a_bad_response() -> None:
    target = VLLMTarget("http://e", model="m")

    async def go():
        handler = lambda r: httpx.Response(200, json={"choices": [{"text": "x"}], "usage": {}})  # noqa: E731
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await target.send(client, b"{}", 3)

    assert asyncio.run(go()).error == "bad_response"
