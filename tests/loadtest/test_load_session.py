"""LoadSession against a fake gateway: chars-per-token calibration, a summarised run, a failing probe."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from loadtest.arrival_schedule import ScheduleConfig
from loadtest.gateway_target import GatewayTarget
from loadtest.load_runner import RunConfig
from loadtest.load_session import LoadSession
from loadtest.movielens import MovieLens
from loadtest.prompt_text import HistoryLine, prefix_text, suffix_text
from loadtest.workload import WorkloadConfig
from tests.loadtest.conftest import fake_gateway
from tests.loadtest.demo_task import DEMO_TASK


def test_calibration_divides_prompt_chars_by_reported_tokens(movielens: MovieLens) -> None:
    seen = {}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        member, cand = body["member"], body["candidates"][0]
        history = [HistoryLine(h["item"], h["action"], h["timestamp"]) for h in member["history"]]
        seen["chars"] = len(prefix_text(member["profile"], history, DEMO_TASK) + suffix_text(cand["text"], DEMO_TASK))
        return fake_gateway(prompt_tokens_per_candidate=250)(request)

    async def go():
        async with LoadSession(GatewayTarget("http://svc"), movielens, transport=httpx.MockTransport(handler)) as s:
            return await s.calibrate(WorkloadConfig(task=DEMO_TASK))

    cpt = asyncio.run(go())
    assert cpt == pytest.approx(seen["chars"] / 250)


def test_failing_probe_raises(movielens: MovieLens) -> None:
    async def go():
        transport = httpx.MockTransport(lambda r: httpx.Response(503, json={"error": {"code": "not_ready"}}))
        async with LoadSession(GatewayTarget("http://svc"), movielens, transport=transport) as s:
            return await s.calibrate(WorkloadConfig(task=DEMO_TASK))

    with pytest.raises(RuntimeError, match="http_503:not_ready"):
        asyncio.run(go())


def test_run_is_summarised_with_its_config(movielens: MovieLens) -> None:
    config = RunConfig(
        "k=3", ScheduleConfig(50.0, 12, seed=1), WorkloadConfig(task=DEMO_TASK, k=3, context_tokens=128), num_warmup=2
    )

    async def go():
        transport = httpx.MockTransport(fake_gateway())
        async with LoadSession(GatewayTarget("http://svc"), movielens, show_progress=False, transport=transport) as s:
            summary = await s.run(config, slo_ms=1000.0)
            return summary, s.model

    summary, model = asyncio.run(go())
    d = summary.data
    assert model == "fake" and d["model"] == "fake" and d["label"] == "k=3"
    assert d["requests"]["measured"] == 10 and d["requests"]["ok"] == 10
    assert d["workload"]["k"] == 3 and d["schedule"]["rate"] == 50.0 and not d["is_partial"]
    assert d["throughput"]["candidates_per_s"] == pytest.approx(3 * d["throughput"]["members_per_s"])
