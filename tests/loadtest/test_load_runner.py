"""The open loop: sends follow the schedule while a slow server holds earlier requests; caps are explicit."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from loadtest.arrival_schedule import ScheduleConfig
from loadtest.gateway_target import GatewayTarget
from loadtest.load_runner import LoadRunner, RunConfig
from loadtest.movielens import MovieLens
from loadtest.workload import Workload, WorkloadConfig
from tests.loadtest.conftest import fake_gateway
from tests.loadtest.demo_task import DEMO_TASK


class SlowServer:
    """Answers /rank after `delay_s`, counting how many requests it holds at once."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.in_flight = 0
        self.max_in_flight = 0
        self.answer = fake_gateway()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
            return self.answer(request)
        finally:
            self.in_flight -= 1


def run(movielens: MovieLens, server, n: int, rate: float, warmup: int = 0, cap: int | None = None, stop_after=None):
    schedule = ScheduleConfig(rate, n, arrival="constant")
    workload = WorkloadConfig(task=DEMO_TASK, k=2, context_tokens=128)
    config = RunConfig("t", schedule, workload, num_warmup=warmup, max_concurrency=cap)
    runner = LoadRunner(GatewayTarget("http://svc"), config, Workload(movielens, workload))

    async def go():
        stop = asyncio.Event()
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, stop.set)
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            return await runner.run(client, stop)

    return asyncio.run(go())


def test_slow_responses_do_not_delay_later_sends(movielens: MovieLens) -> None:
    server = SlowServer(delay_s=0.5)
    state = run(movielens, server, n=20, rate=20.0)
    assert len(state.records) == 20 and all(r.is_ok for r in state.records)
    # A closed loop would hold one request at a time; on schedule, ~10 overlap (0.5 s x 20/s).
    assert server.max_in_flight >= 5
    for r in state.records:
        assert r.latency_s == pytest.approx(r.queue_s + r.service_s)
    # Open loop: every request after the first was sent before the one ahead of it was answered (the server
    # holds each for 0.5 s, 10x the 0.05 s spacing), an ordering that does not depend on the machine's speed.
    records = sorted(state.records, key=lambda r: r.scheduled_s)
    sent = [r.scheduled_s + r.queue_s for r in records]
    done = [s + r.service_s for s, r in zip(sent, records, strict=True)]
    assert all(sent[i] < done[i - 1] for i in range(1, len(records)))
    assert [r.scheduled_s for r in state.records] == pytest.approx([i / 20 for i in range(20)])


def test_concurrency_cap_is_recorded_as_queue_time(movielens: MovieLens) -> None:
    server = SlowServer(delay_s=0.1)
    state = run(movielens, server, n=10, rate=100.0, cap=2)
    assert server.max_in_flight <= 2
    # 10 requests due within 0.1 s through 2 slots of 0.1 s: the last waits ~0.4 s in the client.
    assert max(r.queue_s for r in state.records) >= 0.3
    assert max(r.latency_s for r in state.records) >= 0.4


def test_warmup_is_flagged(movielens: MovieLens) -> None:
    state = run(movielens, SlowServer(0.0), n=6, rate=50.0, warmup=2)
    assert [r.is_warmup for r in state.records] == [True, True, False, False, False, False]


def test_stop_leaves_a_partial_run(movielens: MovieLens) -> None:
    server = SlowServer(delay_s=5.0)
    state = run(movielens, server, n=100, rate=10.0, stop_after=0.35)
    assert state.is_partial
    assert state.num_sent < 100
    # Everything in flight at the stop is cancelled and recorded as such, not dropped.
    assert len(state.records) == state.num_sent
    assert {r.error for r in state.records} == {"cancelled"}


def test_errors_are_recorded_not_raised(movielens: MovieLens) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["member"]["id"].endswith("-0") and len(body["candidates"]) == 2:
            return httpx.Response(503, json={"error": {"code": "overloaded", "message": "x"}})
        return fake_gateway()(request)

    state = run(movielens, handler, n=4, rate=100.0)
    assert len(state.records) == 4
    assert {r.error for r in state.records} == {"http_503:overloaded"}
