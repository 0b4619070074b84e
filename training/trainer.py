"""One training loop for the teacher, the SFT student and the KD student: seeded, resumable, with progress."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from ranking.labels import LabelTokens
from training.data.example_builder import ExampleBuilder, RankGroup
from training.objectives.ranking_losses import LossTerms, RecSysDistillationLoss, SupervisedRankingLoss
from training.on_policy import on_policy_logits
from training.packed_batch import PackedBatch, pack_groups
from training.packed_forward import packed_hidden, rows_logits, sequence_positions

STATE_FILE = "train_state.pt"
LOG_FILE = "train_log.jsonl"
BEST_FILE = "best_model.pt"
BEST_INFO = "best.json"

# Scores a model on held-out data (higher is better), e.g. val per-member AUC.
Validator = Callable[[torch.nn.Module], float]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of one training stage. A step is `groups_per_step` packed member groups."""

    steps: int = 300
    groups_per_step: int = 8
    learning_rate: float = 2e-3
    warmup_steps: int = 20
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    sequence_positions_per_row: int = 64
    checkpoint_every: int = 50
    seed: int = 0
    # On-policy KD (distillation only): with this probability a step adds the divergence on student samples.
    on_policy_fraction: float = 0.0
    on_policy_tokens: int = 8
    on_policy_weight: float = 0.05

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trainer:
    """Trains `model` with a supervised loss, or with a RecSys distillation loss against `teacher`."""

    def __init__(
        self,
        model: torch.nn.Module,
        examples: ExampleBuilder,
        label_tokens: dict[str, LabelTokens],
        pad_id: int,
        config: TrainConfig,
        out_dir: str | Path,
        loss: RecSysDistillationLoss | SupervisedRankingLoss,
        teacher: torch.nn.Module | None = None,
        validator: Validator | None = None,
        validate_every: int = 0,
    ) -> None:
        if isinstance(loss, RecSysDistillationLoss) and teacher is None:
            raise ValueError("a distillation loss needs a teacher")
        self.model, self.examples, self.label_tokens = model, examples, label_tokens
        self.pad_id, self.config, self.loss, self.teacher = pad_id, config, loss, teacher
        self.out_dir = Path(out_dir)
        self.validator, self.validate_every = validator, validate_every
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, betas=(0.9, 0.98)
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.step = 0
        self.seconds = 0.0
        # Time in teacher forward passes: the measurement behind computing teacher logits on the fly.
        self.teacher_seconds = 0.0

    def _lr_factor(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10% of the peak."""
        cfg = self.config
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def run(self, description: str = "train") -> float:
        """Train to `config.steps`, resuming from the last checkpoint in out_dir; returns the wall seconds spent."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._resume()
        self.model.train()
        if self.teacher is not None:
            self.teacher.eval()
        bar = tqdm(total=self.config.steps, initial=self.step, desc=description, unit="step", dynamic_ncols=True)
        with (self.out_dir / LOG_FILE).open("a") as log:
            while self.step < self.config.steps:
                started = time.perf_counter()
                loss, parts = self.train_step()
                self.seconds += time.perf_counter() - started
                self.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}")
                log.write(json.dumps({"step": self.step, "loss": loss, **parts}) + "\n")
                if self._due(self.validate_every) and self.validator is not None:
                    self._validate(log)
                if self._due(self.config.checkpoint_every):
                    log.flush()
                    self._save_state()
        bar.close()
        self._restore_best()
        return self.seconds

    def _due(self, every: int) -> bool:
        return every > 0 and (self.step % every == 0 or self.step == self.config.steps)

    def _validate(self, log: TextIO) -> None:
        """Score the model on held-out data; keep its weights when it is the best so far."""
        assert self.validator is not None
        score = self.validator(self.model)
        self.model.train()
        log.write(json.dumps({"step": self.step, "val_score": score}) + "\n")
        info = self.best()
        if info is None or score > info["val_score"]:
            torch.save(self.model.state_dict(), self.out_dir / BEST_FILE)
            (self.out_dir / BEST_INFO).write_text(json.dumps({"step": self.step, "val_score": score}) + "\n")

    def best(self) -> dict[str, Any] | None:
        """{"step", "val_score"} of the best validated checkpoint, or None."""
        path = self.out_dir / BEST_INFO
        return json.loads(path.read_text()) if path.exists() else None

    def _restore_best(self) -> None:
        if self.best() is not None:
            self.model.load_state_dict(torch.load(self.out_dir / BEST_FILE, map_location="cpu", weights_only=True))

    def train_step(self) -> tuple[float, dict[str, float]]:
        """One optimiser step on freshly sampled groups; the sample depends only on (seed, step)."""
        cfg = self.config
        groups = self.examples.train_groups(np.random.default_rng([cfg.seed, self.step]), cfg.groups_per_step)
        batch = pack_groups(groups, self.label_tokens, self.pad_id)
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
        positions = sequence_positions(batch, cfg.sequence_positions_per_row, generator)
        student = loss_terms(self.model, batch, positions)
        if isinstance(self.loss, RecSysDistillationLoss):
            assert self.teacher is not None
            started = time.perf_counter()
            with torch.no_grad():
                teacher = loss_terms(self.teacher, batch, positions)
            self.teacher_seconds += time.perf_counter() - started
            loss, parts = self.loss(student, teacher)
            if cfg.on_policy_fraction > 0 and torch.rand(1, generator=generator).item() < cfg.on_policy_fraction:
                loss, parts = self._add_on_policy(loss, parts, groups, generator)
        else:
            loss, parts = self.loss(student)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        return loss.detach().item(), parts

    def _add_on_policy(
        self, loss: torch.Tensor, parts: dict[str, float], groups: list[RankGroup], generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Add on_policy_weight x divergence(teacher, student) on student-sampled continuations of the prefixes."""
        assert isinstance(self.loss, RecSysDistillationLoss) and self.teacher is not None
        s, t = on_policy_logits(
            self.model, self.teacher, [g.prefix_ids for g in groups], self.config.on_policy_tokens, generator
        )
        term = self.loss.divergence(s, t)
        return loss + self.config.on_policy_weight * term, {**parts, "on_policy_kd": term.detach().item()}

    def _save_state(self) -> None:
        tmp = self.out_dir / (STATE_FILE + ".tmp")
        torch.save(
            {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "step": self.step,
                "seconds": self.seconds,
                "teacher_seconds": self.teacher_seconds,
                "config": self.config.to_dict(),
            },
            tmp,
        )
        tmp.replace(self.out_dir / STATE_FILE)

    def _resume(self) -> None:
        path = self.out_dir / STATE_FILE
        if not path.exists():
            return
        # weights_only: a resumed state file cannot run code (it holds only tensors and plain values).
        state = torch.load(path, map_location="cpu", weights_only=True)
        if state["config"] != self.config.to_dict():
            raise ValueError(f"{path} was written with another TrainConfig; use a fresh --out directory")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.seconds = state["step"], state["seconds"]
        self.teacher_seconds = state.get("teacher_seconds", 0.0)


def loss_terms(model: torch.nn.Module, batch: PackedBatch, positions: torch.Tensor) -> LossTerms:
    """Label rows and sampled sequence rows of one packed forward pass."""
    hidden = packed_hidden(model, batch)
    return LossTerms(
        label_logits=rows_logits(model, hidden, batch.label_index),
        label_target=batch.label_target.to(hidden.device),
        sequence_logits=rows_logits(model, hidden, positions),
        sequence_target=batch.next_ids.flatten()[positions].to(hidden.device),
    )
