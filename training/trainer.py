"""One training loop for the teacher, the SFT student and the KD student: seeded, resumable, with progress."""

from __future__ import annotations

import copy
import json
import math
import time
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
import torch
from tqdm import tqdm

from ranking.labels import LabelTokens
from training.chunked_sequence import TeacherRows, chunked_step_loss, teacher_rows
from training.data.example_builder import ExampleBuilder
from training.distributed import (
    DistributedContext,
    full_model_state,
    gradient_scale,
    main_log,
    shard_model,
)
from training.global_batch import GlobalBatch, MicroBatch, check_divisible, row_generator
from training.objectives.fused_loss_factory import build_fused_loss
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
from training.on_policy import on_policy_logits
from training.optimizer_factory import build_optimizer
from training.packed_batch import PackedBatch, pack_groups
from training.packed_forward import sequence_positions
from training.packed_lm import PackedLM, module_terms, set_checkpointing
from training.precision import Precision
from training.prefix_schedule import PrefixSchedule
from training.setup_error import SetupError
from training.train_state import load_train_state, save_train_state

if TYPE_CHECKING:
    from training.teacher_scores import TeacherScores

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
    # Memory and speed (docs/training.md): micro-batches per step, recompute activations in backward, bf16 autocast.
    grad_accum_steps: int = 1
    gradient_checkpointing: bool = False
    precision: str = "fp32"
    # > 0: the sequence term's LM head and loss run this many rows at a time (training/chunked_sequence.py).
    sequence_chunk_rows: int = 0
    # "liger": the sequence term through Liger-Kernel's fused linear + loss (CUDA; objectives/fused_loss_factory.py).
    fused_loss: str = "none"
    # "adamw8bit": torchao's AdamW with blockwise 8-bit moments (training/optimizer_factory.py); default float32.
    optimizer: str = "adamw"
    # Prefix curriculum (training/prefix_schedule.py): the first `short_prefix_steps` steps build prompts with a
    # `short_prefix_len`-token member prefix instead of the card's max_prefix_len; 0: every step at the card's.
    short_prefix_len: int = 0
    short_prefix_steps: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Trainer:
    """Trains `model` with a supervised loss, or with a RecSys distillation loss against `teacher`.

    Under torchrun (`parallel` with a world size > 1) the trained module is an FSDP2-sharded copy of `model`;
    `model` itself receives the trained (or best validated) weights at the end, on every rank.
    """

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
        device: torch.device | None = None,
        parallel: DistributedContext | None = None,
        teacher_scores: TeacherScores | None = None,
    ) -> None:
        if isinstance(loss, RecSysDistillationLoss) and teacher is None and teacher_scores is None:
            raise ValueError("a distillation loss needs a teacher or its offline scores")
        if config.on_policy_fraction > 0 and config.sequence_chunk_rows > 0:
            raise SetupError("on-policy KD and sequence_chunk_rows > 0 do not combine; set one of them to 0")
        if teacher_scores is not None and config.on_policy_fraction > 0:
            raise SetupError("on-policy KD needs the live teacher; set on_policy_fraction=0 with teacher scores")
        self.teacher_scores = teacher_scores
        self.parallel = parallel or DistributedContext()
        check_divisible(config.groups_per_step, self.parallel.world_size, config.grad_accum_steps)
        if self.parallel.is_distributed and config.on_policy_fraction > 0:
            raise SetupError("on-policy KD runs in one process only; set on_policy_fraction=0 under torchrun")
        self.precision = Precision(device or torch.device("cpu"), config.precision)
        self.fused = build_fused_loss(config.fused_loss, loss, self.precision.device, teacher_scores is not None,
                                      config.on_policy_fraction > 0, self.parallel.is_distributed)  # fmt: skip
        self.model, self.label_tokens = model, label_tokens
        self.prefixes = PrefixSchedule(examples, config)  # every step draws its groups through the schedule
        self.pad_id, self.config, self.loss, self.teacher = pad_id, config, loss, teacher
        self.out_dir = Path(out_dir)
        self.validator, self.validate_every = validator, validate_every
        self.module = self._train_module(model)
        self.teacher_module = self._teacher_module(teacher)
        self.optimizer = build_optimizer(config.optimizer, self.module.parameters(), config.learning_rate,
                                         config.weight_decay, self.parallel.is_distributed)  # fmt: skip
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.step = 0
        self.seconds = 0.0
        # Time in teacher forward passes: the measurement behind computing teacher logits on the fly.
        self.teacher_seconds = 0.0

    def _train_module(self, model: torch.nn.Module) -> PackedLM:
        """The module the optimiser updates: `model` itself, or its FSDP2-sharded copy under torchrun."""
        model.to(self.precision.device)
        self.precision.enable_tf32()
        if self.config.gradient_checkpointing:
            set_checkpointing(model, True)
        if not self.parallel.is_distributed:
            return PackedLM(model)
        module = PackedLM(copy.deepcopy(model))
        shard_model(module, module.layers)
        return module

    def _teacher_module(self, teacher: torch.nn.Module | None) -> PackedLM | None:
        """The frozen teacher in eval mode, on the device, in the compute dtype."""
        if teacher is None:
            return None
        teacher.to(self.precision.device, dtype=self.precision.teacher_dtype).eval().requires_grad_(False)
        return PackedLM(teacher)

    def _lr_factor(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 10% of the peak."""
        cfg = self.config
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    def run(self, description: str = "train") -> float:
        """Train to `config.steps`, resuming from the last checkpoint in out_dir; returns the wall seconds spent."""
        is_main = self.parallel.is_main
        if is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        self.parallel.barrier()
        self._resume()
        self.module.train()
        bar = tqdm(total=self.config.steps, initial=self.step, desc=description, unit="step", dynamic_ncols=True,
                   disable=not is_main)  # fmt: skip
        with main_log(self.out_dir / LOG_FILE, is_main) as log:
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
        self._sync_model()
        if self.config.gradient_checkpointing:
            set_checkpointing(self.model, False)
        self._restore_best()
        return self.seconds

    def _due(self, every: int) -> bool:
        return every > 0 and (self.step % every == 0 or self.step == self.config.steps)

    def _sync_model(self) -> None:
        """Copy the trained weights into the plain `model` (a collective under torchrun; nothing in one process)."""
        if self.parallel.is_distributed:
            state = full_model_state(self.module)
            self.model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})

    def _validate(self, log: TextIO) -> None:
        """Score the model on held-out data (rank 0); keep its weights when it is the best so far."""
        assert self.validator is not None
        self._sync_model()
        if self.parallel.is_main:
            score = self.validator(self.model)
            log.write(json.dumps({"step": self.step, "val_score": score}) + "\n")
            info = self.best()
            if info is None or score > info["val_score"]:
                torch.save(self.model.state_dict(), self.out_dir / BEST_FILE)
                (self.out_dir / BEST_INFO).write_text(json.dumps({"step": self.step, "val_score": score}) + "\n")
        self.module.train()
        self.parallel.barrier()

    def best(self) -> dict[str, Any] | None:
        """{"step", "val_score"} of the best validated checkpoint, or None."""
        path = self.out_dir / BEST_INFO
        return json.loads(path.read_text()) if path.exists() else None

    def _restore_best(self) -> None:
        if self.best() is not None:
            best = torch.load(self.out_dir / BEST_FILE, map_location=self.precision.device, weights_only=True)
            self.model.load_state_dict(best)

    def train_step(self) -> tuple[float, dict[str, float]]:
        """One optimiser step on the global batch of (seed, step), whatever the world size and accumulation."""
        cfg = self.config
        examples = self.prefixes.at(self.step)
        groups = examples.train_groups(np.random.default_rng([cfg.seed, self.step]), cfg.groups_per_step)
        plan = GlobalBatch(groups, cfg.sequence_positions_per_row)
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + self.step)
        on_policy = cfg.on_policy_fraction > 0 and torch.rand(1, generator=generator).item() < cfg.on_policy_fraction
        micros = plan.micro_batches(self.parallel.rank, self.parallel.world_size, cfg.grad_accum_steps)
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        for i, micro in enumerate(micros):
            if self.parallel.is_distributed:
                # Reduce gradients once per step, after the last micro-batch.
                typing.cast(Any, self.module).set_requires_gradient_sync(i == len(micros) - 1)
            for key, value in self._micro_step(micro, generator if on_policy else None).items():
                totals[key] = totals.get(key, 0.0) + value
        loss, parts = self._reduce(totals)
        # Logged: Adam and clipping hide a wrong gradient scale from the weights, not from the norm.
        parts["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.module.parameters(), cfg.max_grad_norm))
        self.optimizer.step()
        self.scheduler.step()
        return loss, parts

    def _micro_step(self, micro: MicroBatch, on_policy: torch.Generator | None) -> dict[str, float]:
        """Forward and backward of one micro-batch; its loss and parts as shares of the step's (for the log)."""
        cfg = self.config
        batch = pack_groups(micro.groups, self.label_tokens, self.pad_id)
        generators = [row_generator(cfg.seed, self.step, i) for i in micro.indices]
        positions = sequence_positions(batch, cfg.sequence_positions_per_row, generators)
        with self.precision.autocast():
            if cfg.sequence_chunk_rows > 0 or self.fused is not None:
                teacher_rows = self._teacher_rows(batch, positions, micro)
                scales = (micro.label_scale, micro.sequence_scale)
                loss, parts = chunked_step_loss(self.module, self.loss, batch, positions, scales,
                                                cfg.sequence_chunk_rows, teacher_rows, self.fused)  # fmt: skip
                (loss * gradient_scale(self.parallel.world_size)).backward()
                return self._shares(loss, parts, micro)
            student = module_terms(self.module, batch, positions, micro.label_scale, micro.sequence_scale)
            if isinstance(self.loss, RecSysDistillationLoss):
                started = time.perf_counter()
                if self.teacher_scores is not None:
                    teacher = self.teacher_scores.terms(self.step, micro.indices, student)
                else:
                    assert self.teacher_module is not None
                    with torch.no_grad():
                        teacher = module_terms(self.teacher_module, batch, positions)
                self.teacher_seconds += time.perf_counter() - started
                loss, parts = self.loss(student, teacher)
                if on_policy is not None:
                    loss, parts = self._add_on_policy(loss, parts, micro, on_policy)
            else:
                loss, parts = self.loss(student)
        (loss * gradient_scale(self.parallel.world_size)).backward()
        return self._shares(loss, parts, micro)

    @staticmethod
    def _shares(loss: torch.Tensor, parts: dict[str, float], micro: MicroBatch) -> dict[str, float]:
        share = {"label": micro.label_scale, "sequence": micro.sequence_scale, "on": micro.group_share}
        return {"loss": loss.detach().item(), **{k: v * share[k.split("_")[0]] for k, v in parts.items()}}

    def _teacher_rows(self, batch: PackedBatch, positions: torch.Tensor, micro: MicroBatch) -> TeacherRows | None:
        """The teacher's side of the chunked path (None for a supervised loss)."""
        if not isinstance(self.loss, RecSysDistillationLoss):
            return None
        vocab = int(self.model.get_output_embeddings().weight.shape[0])  # type: ignore[operator]
        return teacher_rows(self.teacher_module, self.teacher_scores, self.step, micro.indices, batch, positions,
                            vocab, self.precision.device)  # fmt: skip

    def _reduce(self, totals: dict[str, float]) -> tuple[float, dict[str, float]]:
        """Sum the step's loss and parts over ranks (every rank has the same keys: same objective, same draw)."""
        keys = sorted(totals)
        values = self.parallel.all_reduce_sum(torch.tensor([totals[k] for k in keys], dtype=torch.float64))
        summed = dict(zip(keys, values.tolist(), strict=True))
        return summed.pop("loss"), summed

    def _add_on_policy(
        self, loss: torch.Tensor, parts: dict[str, float], micro: MicroBatch, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Add on_policy_weight x divergence(teacher, student) on student-sampled continuations of the prefixes."""
        assert isinstance(self.loss, RecSysDistillationLoss) and self.teacher is not None
        prefixes = [g.prefix_ids for g in micro.groups]
        s, t = on_policy_logits(self.model, self.teacher, prefixes, self.config.on_policy_tokens, generator)
        term = self.loss.divergence(s, t)
        weight = self.config.on_policy_weight * micro.group_share
        return loss + weight * term, {**parts, "on_policy_kd": term.detach().item()}

    def _save_state(self) -> None:
        counters = {"step": self.step, "seconds": self.seconds, "teacher_seconds": self.teacher_seconds}
        save_train_state(self.out_dir, self.module, self.optimizer, self.scheduler, counters, self.config.to_dict(),
                         self.parallel)  # fmt: skip

    def _resume(self) -> None:
        state = load_train_state(self.out_dir, self.module, self.optimizer, self.scheduler, self.config.to_dict())
        if state is not None:
            self.step, self.seconds = state["step"], state["seconds"]
            self.teacher_seconds = state.get("teacher_seconds", 0.0)
