"""The open loop: each request is launched at its precomputed time whether or not earlier ones finished.

Bodies are encoded before the clock starts. The only thing that may hold a request back is an explicit
concurrency cap, and then the wait is recorded as client queue time and stays inside the latency.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from loadtest.arrival_schedule import ArrivalSchedule, ScheduleConfig
from loadtest.request_record import RequestRecord
from loadtest.target import Outcome, Target
from loadtest.workload import WorkItem, Workload, WorkloadConfig

START_LEAD_S = 0.05


@dataclass(frozen=True)
class RunConfig:
    """One measured configuration: its schedule (warm-up included), workload and client limits."""

    label: str
    schedule: ScheduleConfig
    workload: WorkloadConfig
    num_warmup: int = 0
    max_concurrency: int | None = None
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if not 0 <= self.num_warmup < self.schedule.num_requests:
            raise ValueError("num_warmup must be >= 0 and leave at least one measured request")
        if self.max_concurrency is not None and self.max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1 when set")
        if not self.timeout_s > 0:
            raise ValueError("timeout_s must be > 0")


@dataclass
class RunState:
    """Live counters for the progress line, and the records so far."""

    num_total: int
    num_sent: int = 0
    records: list[RequestRecord] = field(default_factory=list)
    started_at: float = 0.0
    is_partial: bool = False

    @property
    def num_done(self) -> int:
        return len(self.records)

    @property
    def num_errors(self) -> int:
        return sum(not r.is_ok for r in self.records)


class LoadRunner:
    """Runs one RunConfig against one Target and returns its RequestRecords."""

    def __init__(self, target: Target, config: RunConfig, workload: Workload) -> None:
        self.target = target
        self.config = config
        self.items: list[WorkItem] = workload.items(config.schedule.num_requests)
        self.bodies = [target.encode(item) for item in self.items]
        self.schedule = ArrivalSchedule(config.schedule)
        self.state = RunState(num_total=len(self.items))
        self.model: str | None = None

    async def run(self, client: httpx.AsyncClient, stop: asyncio.Event | None = None) -> RunState:
        """Send on schedule until done or `stop` is set; requests still in flight at a stop are cancelled."""
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(self.config.max_concurrency) if self.config.max_concurrency else None
        start = loop.time() + START_LEAD_S
        self.state.started_at = time.time() + START_LEAD_S
        tasks: list[asyncio.Task[None]] = []
        for i, offset in enumerate(self.schedule.offsets_s):
            if await _wait_or_stop(stop, start + float(offset) - loop.time()):
                self.state.is_partial = True
                break
            tasks.append(asyncio.create_task(self._one(client, i, float(offset), start, gate)))
        waiter = asyncio.ensure_future(asyncio.gather(*tasks, return_exceptions=True))
        stopper = asyncio.ensure_future(stop.wait())
        pending: set[asyncio.Future[Any]] = {waiter, stopper}
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        if not waiter.done():
            self.state.is_partial = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(waiter, return_exceptions=True)
        stopper.cancel()
        self.state.records.sort(key=lambda r: r.index)
        return self.state

    async def _one(
        self, client: httpx.AsyncClient, i: int, offset: float, start: float, gate: asyncio.Semaphore | None
    ) -> None:
        loop = asyncio.get_running_loop()
        if gate is not None:
            await gate.acquire()
        sent = loop.time() - start
        try:
            self.state.num_sent += 1
            outcome = await self.target.send(client, self.bodies[i], len(self.items[i].candidates))
            done = loop.time() - start
        except asyncio.CancelledError:
            # Stopped mid-flight: counted as an error so a partial report does not quietly keep only the fast.
            self.state.records.append(self._record(i, offset, sent, loop.time() - start, Outcome.failed("cancelled")))
            raise
        finally:
            if gate is not None:
                gate.release()
        self.model = self.model or outcome.model
        self.state.records.append(self._record(i, offset, sent, done, outcome))

    def _record(self, i: int, offset: float, sent: float, done: float, outcome: Outcome) -> RequestRecord:
        item = self.items[i]
        return RequestRecord(
            index=i,
            is_warmup=i < self.config.num_warmup,
            is_repeat=item.is_repeat,
            num_candidates=len(item.candidates),
            scheduled_s=offset,
            sent_s=sent,
            done_s=done,
            is_ok=outcome.is_ok,
            error=outcome.error,
            status=outcome.status,
            prompt_tokens=outcome.prompt_tokens,
            cached_tokens=outcome.cached_tokens,
            engine_ms=outcome.engine_ms,
        )


async def _wait_or_stop(stop: asyncio.Event, delay_s: float) -> bool:
    """Sleep `delay_s` (if positive); True when `stop` was set first."""
    if stop.is_set():
        return True
    if delay_s <= 0:
        return False
    try:
        await asyncio.wait_for(stop.wait(), timeout=delay_s)
    except TimeoutError:
        return False
    return True


def open_loop_client(timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> httpx.AsyncClient:
    """An AsyncClient without httpx's default cap of 100 connections, which would silently close the loop."""
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=64)
    return httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, connect=10.0), limits=limits, transport=transport)
