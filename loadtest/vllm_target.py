"""A vLLM (or OpenAI-compatible) server directly: `POST /v1/completions`, the k prompts, one token each."""

from __future__ import annotations

from typing import Any

import httpx

from loadtest.target import BadResponseError, Outcome, Target, optional_int
from loadtest.workload import WorkItem


class VLLMTarget(Target):
    """Cached tokens from `usage.prompt_tokens_details.cached_tokens` (vLLM reports it when asked to)."""

    name = "vllm-completions"
    path = "/v1/completions"

    async def prepare(self, client: httpx.AsyncClient) -> None:
        """Use the first served model when none was named."""
        if self.model:
            return
        response = await client.get(self.base_url + "/v1/models", headers=self.headers())
        response.raise_for_status()
        models = response.json().get("data") or []
        if not models:
            raise RuntimeError(f"{self.base_url}/v1/models lists no model; pass --model-name")
        self.model = str(models[0]["id"])

    def body(self, item: WorkItem) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": item.prompt_texts(),
            "max_tokens": 1,
            "temperature": 0.0,
        }

    def parse(self, payload: Any, num_candidates: int) -> Outcome:
        choices = payload["choices"]
        if len(choices) != num_candidates:
            raise BadResponseError(f"expected {num_candidates} choices, got {len(choices)}")
        usage = payload.get("usage") or {}
        details = usage.get("prompt_tokens_details") or {}
        return Outcome(
            is_ok=True,
            status=200,
            prompt_tokens=optional_int(usage.get("prompt_tokens")),
            cached_tokens=optional_int(details.get("cached_tokens")),
            model=payload.get("model", self.model),
        )
