"""A fault-injecting fake of the SGLang and vLLM HTTP APIs, for failure-path tests only.

Log-probs are a deterministic function of the prompt (`fake_logprob`), and a toy prefix cache reports
`cached_tokens` as the longest prefix shared with any earlier prompt (at most len - 1), like a radix cache.
Faults are set per test on `FakeEngine.fault`.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.live_server import free_port

FAULTS = ("none", "5xx", "4xx", "429", "timeout", "malformed", "wrong_count", "missing_label", "unhealthy")


def fake_logprob(prompt: Sequence[int], label: int) -> float:
    """A full-vocab-looking log-prob (< 0) that depends on the whole prompt and the label."""
    return -0.1 - ((sum(prompt) * 31 + len(prompt) * 7 + label * 13) % 997) / 100.0


@dataclass
class FakeEngine:
    """State shared by the app's handlers: the fault, requests seen, prompts cached."""

    fault: str = "none"
    delay_s: float = 0.0
    requests: list[tuple[str, Any]] = field(default_factory=list)
    cache: list[tuple[int, ...]] = field(default_factory=list)

    def cached_len(self, prompt: Sequence[int]) -> int:
        best = 0
        for seen in self.cache:
            n = 0
            for a, b in zip(seen, prompt, strict=False):
                if a != b:
                    break
                n += 1
            best = max(best, n)
        return min(best, len(prompt) - 1)

    def run(self, prompts: list[list[int]]) -> list[int]:
        """Cached length per prompt; prompts in one request see each other only afterwards (like a batch)."""
        cached = [self.cached_len(p) for p in prompts]
        self.cache.extend(tuple(p) for p in prompts)
        return cached


def _fault_response(engine: FakeEngine) -> Response | None:
    if engine.fault == "5xx":
        return JSONResponse({"error": "boom"}, status_code=500)
    if engine.fault == "4xx":
        return JSONResponse({"error": "bad request"}, status_code=400)
    if engine.fault == "429":
        return JSONResponse({"error": "busy"}, status_code=429)
    if engine.fault == "malformed":
        return PlainTextResponse("{not json", media_type="application/json")
    return None


def _labels_for(engine: FakeEngine, labels: list[int]) -> list[int]:
    return labels[:-1] if engine.fault == "missing_label" else labels


def _count(engine: FakeEngine, items: list[Any]) -> list[Any]:
    return items[:-1] if engine.fault == "wrong_count" else items


async def _prelude(request: Request, engine: FakeEngine) -> tuple[dict[str, Any], Response | None]:
    body = await request.json()
    engine.requests.append((request.url.path, body))
    if engine.fault == "timeout":
        await asyncio.sleep(30)
    if engine.delay_s:
        await asyncio.sleep(engine.delay_s)
    return body, _fault_response(engine)


def build_app(engine: FakeEngine) -> Starlette:
    """Routes: SGLang /generate, /v1/score, /health_generate; vLLM /v1/completions, /generative_scoring, /health."""

    async def generate(request: Request) -> Response:
        body, fault = await _prelude(request, engine)
        if fault:
            return fault
        prompts = body["input_ids"] if isinstance(body["input_ids"][0], list) else [body["input_ids"]]
        cached = engine.run(prompts)
        labels = _labels_for(engine, body["token_ids_logprob"])
        out = [
            {
                "text": "",
                "output_ids": [],
                "meta_info": {
                    "prompt_tokens": len(p),
                    "completion_tokens": 0,
                    "cached_tokens": c,
                    "output_token_ids_logprobs": [[[fake_logprob(p, lab), lab, None] for lab in labels]],
                },
            }
            for p, c in zip(prompts, cached, strict=True)
        ]
        out = _count(engine, out)
        return JSONResponse(out if isinstance(body["input_ids"][0], list) else out[0])

    async def score(request: Request) -> Response:
        body, fault = await _prelude(request, engine)
        if fault:
            return fault
        prompts = [body["query"] + item for item in body["items"]]
        engine.run(prompts)
        labels = _labels_for(engine, body["label_token_ids"])
        scores = [[math.exp(fake_logprob(p, lab)) for lab in labels] for p in prompts]
        usage = {"prompt_tokens": sum(map(len, prompts)), "completion_tokens": 0}
        return JSONResponse({"scores": _count(engine, scores), "model": "fake", "usage": usage, "object": "scoring"})

    async def completions(request: Request) -> Response:
        body, fault = await _prelude(request, engine)
        if fault:
            return fault
        prompts = body["prompt"] if isinstance(body["prompt"][0], list) else [body["prompt"]]
        cached = engine.run(prompts)
        labels = _labels_for(engine, body["logprob_token_ids"])
        if engine.fault == "old_vllm":  # vLLM < 0.26 drops logprob_token_ids and returns the top tokens only
            labels = [7, 9][: int(body["logprobs"])]
        choices = [
            {
                "index": i,
                "text": "",
                "logprobs": {"top_logprobs": [{f"token_id:{lab}": fake_logprob(p, lab) for lab in labels}]},
            }
            for i, p in enumerate(prompts)
        ]
        usage = {
            "prompt_tokens": sum(map(len, prompts)),
            "prompt_tokens_details": {"cached_tokens": cached[-1]},  # vLLM: the last prompt's count only
        }
        return JSONResponse({"choices": list(reversed(_count(engine, choices))), "usage": usage})

    async def generative_scoring(request: Request) -> Response:
        body, fault = await _prelude(request, engine)
        if fault:
            return fault
        prompts = [body["query"] + item for item in body["items"]]
        first = body["label_token_ids"][0]
        data = [{"index": i, "score": math.exp(fake_logprob(p, first))} for i, p in enumerate(prompts)]
        return JSONResponse({"data": _count(engine, data), "usage": {"prompt_tokens": sum(map(len, prompts))}})

    async def health(request: Request) -> Response:
        engine.requests.append((request.url.path, None))
        return Response(status_code=503 if engine.fault in ("unhealthy", "5xx") else 200)

    return Starlette(
        routes=[
            Route("/generate", generate, methods=["POST"]),
            Route("/v1/score", score, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/generative_scoring", generative_scoring, methods=["POST"]),
            Route("/health_generate", health),
            Route("/health", health),
        ]
    )


class FakeEngineServer:
    """The fake app served by uvicorn on a thread, on a free 127.0.0.1 port."""

    def __init__(self) -> None:
        self.engine = FakeEngine()
        self.port = free_port()
        config = uvicorn.Config(build_app(self.engine), host="127.0.0.1", port=self.port, log_level="error")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeEngineServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake engine did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._server.force_exit = True  # do not wait for the 30 s "timeout" handlers
        self._thread.join(timeout=10)
