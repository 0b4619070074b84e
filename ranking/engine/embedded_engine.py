"""The embedded engine, v0: score k full prompts in right-padded batches with a Hugging Face model.

No prefix cache yet (every prompt is computed in full); the Scorer interface already carries the shared
prefix separately so a radix-cached engine can drop in behind it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import torch

from ranking.model_loader import LoadedModel
from ranking.scorer import ScoreBatch, Scorer, ScoreResult, ScorerTimeoutError, ScorerUnavailableError


@dataclass(frozen=True)
class EngineConfig:
    """How many prompts go into one forward pass."""

    max_batch_size: int = 16

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError("EngineConfig.max_batch_size must be >= 1")


class EmbeddedEngine(Scorer):
    """In-process scorer: forward passes run on a worker thread, one batch at a time."""

    name = "embedded"

    def __init__(self, loaded: LoadedModel, config: EngineConfig | None = None) -> None:
        self.loaded = loaded
        self.config = config or EngineConfig()
        self._lock = threading.Lock()
        self._ready = False

    async def start(self) -> None:
        """Warm up: one real forward pass so the first request does not pay for lazy initialisation."""
        bos = self.loaded.tokenizer.bos_token_id or 0
        warm = ScoreBatch(prefix_ids=(bos, bos), suffix_ids=((bos,),), label_ids=(0, 1))
        await asyncio.to_thread(self._score_sync, warm)
        self._ready = True

    def is_ready(self) -> bool:
        return self._ready

    async def score(self, batch: ScoreBatch) -> ScoreResult:
        if not self._ready:
            raise ScorerUnavailableError("embedded engine is not warmed up yet")
        left = batch.seconds_left()
        if left is not None and left <= 0:
            raise ScorerTimeoutError("deadline passed before scoring started")
        return await asyncio.to_thread(self._score_sync, batch)

    def _score_sync(self, batch: ScoreBatch) -> ScoreResult:
        prompts = [list(batch.prefix_ids) + list(s) for s in batch.suffix_ids]
        rows: list[tuple[float, ...]] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(prompts), self.config.max_batch_size):
                if batch.deadline is not None and time.monotonic() > batch.deadline:
                    raise ScorerTimeoutError("deadline passed while scoring")
                chunk = prompts[start : start + self.config.max_batch_size]
                rows.extend(self._label_logprobs(chunk, batch.label_ids))
        return ScoreResult(tuple(rows), batch.prompt_tokens, cached_tokens=0, engine=self.name)

    def _label_logprobs(self, prompts: list[list[int]], label_ids: tuple[int, ...]) -> list[tuple[float, ...]]:
        """Full-vocab log-probs of the label ids after each prompt; prompts right-padded to one length."""
        device = self.loaded.device
        lengths = torch.tensor([len(p) for p in prompts], device=device)
        width = int(lengths.max())
        ids = torch.zeros((len(prompts), width), dtype=torch.long, device=device)
        mask = torch.zeros_like(ids)
        for i, p in enumerate(prompts):
            ids[i, : len(p)] = torch.tensor(p, device=device)
            mask[i, : len(p)] = 1
        # Right padding keeps every real token at its natural position id, so scores equal an unpadded pass;
        # only the last real position goes through lm_head (a [k, V] product instead of [k, T, V]).
        model = self.loaded.model
        base = getattr(model, model.base_model_prefix)
        hidden = base(input_ids=ids, attention_mask=mask).last_hidden_state  # [k, T, H]
        last = hidden[torch.arange(len(prompts), device=device), lengths - 1]  # [k, H]
        logits = model.get_output_embeddings()(last).float()  # [k, V]
        logprobs = torch.log_softmax(logits, dim=-1)[:, list(label_ids)]  # [k, L]
        return [tuple(float(x) for x in row) for row in logprobs.cpu()]
