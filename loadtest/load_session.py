"""Everything several runs share: the HTTP client, the target, MovieLens, Ctrl-C handling, calibration."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import replace
from typing import Any

import httpx

from loadtest.load_runner import LoadRunner, RunConfig, open_loop_client
from loadtest.movielens import MovieLens
from loadtest.progress_line import ProgressLine
from loadtest.prompt_text import prefix_text, suffix_text
from loadtest.run_summary import RunSummary
from loadtest.target import Target
from loadtest.workload import Workload, WorkloadConfig

PROBE_CONTEXT_TOKENS = 200


class LoadSession:
    """Use as `async with LoadSession(...) as s:`; the first Ctrl-C stops the current run and the rest."""

    def __init__(
        self,
        target: Target,
        data: MovieLens,
        timeout_s: float = 120.0,
        show_progress: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.target = target
        self.transport = transport
        self.data = data
        self.timeout_s = timeout_s
        self.show_progress = show_progress
        self.stop = asyncio.Event()
        self.client: httpx.AsyncClient | None = None
        self.model: str | None = None

    async def __aenter__(self) -> LoadSession:
        self.client = open_loop_client(self.timeout_s, self.transport)
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGINT, self._interrupt)
        await self.target.prepare(self.client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)
        if self.client is not None:
            await self.client.aclose()

    def _interrupt(self) -> None:
        sys.stderr.write("\ninterrupted: stopping sends, writing the partial report (Ctrl-C again to abort)\n")
        self.stop.set()
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)

    @property
    def is_stopped(self) -> bool:
        return self.stop.is_set()

    async def run(self, config: RunConfig, slo_ms: float, meta: dict[str, Any] | None = None) -> RunSummary:
        """One open-loop run, summarised; `meta` is stored beside the config in the summary."""
        assert self.client is not None, "use LoadSession as an async context manager"
        runner = LoadRunner(self.target, config, Workload(self.data, config.workload))
        progress = ProgressLine(config.label, runner.state)
        task = asyncio.create_task(progress.run()) if self.show_progress else None
        try:
            state = await runner.run(self.client, self.stop)
        finally:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self.model = self.model or runner.model
        info = {**(meta or {}), **config_dict(config), "model": runner.model, "is_partial": state.is_partial}
        return RunSummary.from_records(state.records, slo_ms, info)

    async def calibrate(self, workload: WorkloadConfig) -> float | None:
        """Characters per token of this server's tokenizer, from one small probe's `prompt_tokens` (k = 1).

        The probe's history is short enough to fit any prefix budget, so the server counts all of it. A failed
        probe raises RuntimeError: there is no point in loading a server that cannot answer one request.
        """
        assert self.client is not None, "use LoadSession as an async context manager"
        probe_cfg = replace(
            workload,
            k=1,
            context_tokens=PROBE_CONTEXT_TOKENS,
            repeat_fraction=0.0,
            namespace=workload.namespace + "-probe",
        )
        item = Workload(self.data, probe_cfg).next_item()
        outcome = await self.target.send(self.client, self.target.encode(item), 1)
        if not outcome.is_ok:
            raise RuntimeError(f"the calibration probe to {self.target.url} failed ({outcome.error})")
        if not outcome.prompt_tokens:
            return None
        text = prefix_text(item.member.profile, item.member.history, item.task) + suffix_text(
            item.candidates[0][1], item.task
        )
        return len(text) / outcome.prompt_tokens


def config_dict(config: RunConfig) -> dict[str, Any]:
    """A RunConfig as plain JSON data."""
    return {
        "label": config.label,
        "schedule": vars(config.schedule).copy(),
        "workload": {**vars(config.workload), "task": config.workload.task.name},
        "num_warmup": config.num_warmup,
        "max_concurrency": config.max_concurrency,
        "timeout_s": config.timeout_s,
    }
