"""The SGLang /generate target against a fake server: text batch out, meta_info read back."""

from __future__ import annotations

import asyncio
import json

import httpx

from loadtest.movielens import MovieLens
from loadtest.sglang_target import SGLangTarget
from loadtest.workload import Workload, WorkloadConfig
from tests.loadtest.demo_task import DEMO_TASK


def fake_sglang(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    assert request.url.path == "/generate"
    assert body["sampling_params"]["max_new_tokens"] == 1
    outs = [
        {
            "text": " Yes",
            "meta_info": {
                "prompt_tokens": 100 + i,
                "cached_tokens": 80,
                "completion_tokens": 1,
                "e2e_latency": 0.01 * (i + 1),
            },
        }
        for i, _ in enumerate(body["text"])
    ]
    return httpx.Response(200, json=outs)


def run(item, handler):
    target = SGLangTarget("http://engine:30000", model="m")

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await target.send(client, target.encode(item), len(item.candidates))

    return asyncio.run(go())


def test_generate_batch_sums_tokens_and_takes_slowest_latency(movielens: MovieLens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=3, context_tokens=200)).next_item()
    out = run(item, fake_sglang)
    assert out.is_ok
    assert out.prompt_tokens == 100 + 101 + 102 and out.cached_tokens == 240
    assert out.engine_ms is not None and abs(out.engine_ms - 30.0) < 1e-9


def test_prompts_share_the_member_prefix(movielens: MovieLens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=3, context_tokens=200)).next_item()
    body = SGLangTarget("http://e").body(item)
    texts = body["text"]
    assert len(texts) == 3
    prefix = texts[0][: texts[0].index("Candidate: ")]
    assert all(t.startswith(prefix) and t.endswith(f"{DEMO_TASK.question} Answer:") for t in texts)
    for (_, cand), text in zip(item.candidates, texts, strict=True):
        assert f"Candidate: {cand}\n" in text


def test_missing_outputs_or_meta(movielens: MovieLens) -> None:
    item = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=2, context_tokens=200)).next_item()
    assert run(item, lambda r: httpx.Response(200, json=[{"meta_info": {}}])).error == "bad_response"
    no_meta_numbers = [{"text": "x", "meta_info": {}}] * 2
    out = run(item, lambda r: httpx.Response(200, json=no_meta_numbers))
    assert out.is_ok and out.prompt_tokens is None and out.engine_ms is None
