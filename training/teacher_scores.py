"""Offline teacher scores (the DistillKit pattern): the teacher's log-probs for every step a student will take,
written once, so any number of students are distilled without loading the teacher.

A step's global batch and each group's sampled sequence positions depend only on (seed, step, group index)
(training/global_batch.py), so the teacher can score them ahead of time. Per group it stores the full
log-probabilities at the label rows, and at the sampled sequence rows either the full distribution (`top_k` 0:
training from the file is the on-the-fly run, tested) or the top-k log-probs (the rest of the vocabulary gets
no teacher mass: the divergence is then over the renormalised top k, an approximation).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ranking.labels import LabelTokens
from training.data.example_builder import ExampleBuilder
from training.global_batch import GlobalBatch, row_generator
from training.objectives.ranking_losses import LossTerms
from training.packed_batch import pack_groups
from training.packed_forward import sequence_positions
from training.packed_lm import PackedLM
from training.prefix_schedule import PrefixSchedule
from training.setup_error import SetupError
from training.trainer import TrainConfig

META_FILE = "teacher_scores.json"
# Log-prob given to tokens outside a stored top k: exp() of it is exactly 0 in float32, and it stays finite.
ABSENT = -1.0e4


@dataclass(frozen=True)
class TeacherScoresConfig:
    """`path`: a teacher-scores folder the KD student trains from ("" = run the teacher on the fly);
    `top_k`: log-probs kept per sequence position when writing (0 = the whole vocabulary)."""

    path: str = ""
    top_k: int = 0
    groups_per_batch: int = 8


def step_file(out_dir: Path, step: int) -> Path:
    return out_dir / f"step-{step:06d}.pt"


def fingerprint(train: TrainConfig, extra: dict[str, Any]) -> dict[str, Any]:
    """What the student's batches depend on; a scores folder is used only by a run with the same values."""
    keys = ("seed", "steps", "groups_per_step", "sequence_positions_per_row")
    return {**{k: asdict(train)[k] for k in keys}, **extra}


@torch.no_grad()
def write_teacher_scores(
    teacher: torch.nn.Module,
    examples: ExampleBuilder,
    label_tokens: dict[str, LabelTokens],
    pad_id: int,
    train: TrainConfig,
    config: TeacherScoresConfig,
    out_dir: Path,
    extra: dict[str, Any],
) -> None:
    """Score every step of `train` with the teacher into out_dir (one file per step, resumable)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    module = PackedLM(teacher.eval())
    prefixes = PrefixSchedule(examples, train)  # the student's steps, curriculum included
    for step in range(train.steps):
        path = step_file(out_dir, step)
        if path.exists():
            continue
        groups = prefixes.at(step).train_groups(np.random.default_rng([train.seed, step]), train.groups_per_step)
        rows: list[dict[str, torch.Tensor]] = []
        for start in range(0, len(groups), config.groups_per_batch):
            chunk = list(range(start, min(start + config.groups_per_batch, len(groups))))
            batch = pack_groups([groups[i] for i in chunk], label_tokens, pad_id)
            gens = [row_generator(train.seed, step, i) for i in chunk]
            positions = sequence_positions(batch, train.sequence_positions_per_row, gens)
            label_logits, seq_logits = module(batch, positions)
            label_rows = label_logits.log_softmax(-1).split([len(groups[i].labels) for i in chunk])
            counts = GlobalBatch([groups[i] for i in chunk], train.sequence_positions_per_row).per_group_positions()
            seq_rows = seq_logits.log_softmax(-1).split(counts)
            targets = batch.label_target.split([len(groups[i].labels) for i in chunk])
            for label, seq, target in zip(label_rows, seq_rows, targets, strict=True):
                rows.append({"label": label.cpu(), "label_target": target.cpu(), **_sequence(seq.cpu(), config.top_k)})
        tmp = path.with_suffix(".tmp")
        torch.save(rows, tmp)
        tmp.replace(path)
    meta = {"fingerprint": fingerprint(train, extra), "top_k": config.top_k, "steps": train.steps}
    (out_dir / META_FILE).write_text(json.dumps(meta, indent=1) + "\n")


def _sequence(logprobs: torch.Tensor, top_k: int) -> dict[str, torch.Tensor]:
    if top_k <= 0 or top_k >= logprobs.shape[-1]:
        return {"sequence": logprobs}
    values, index = logprobs.topk(top_k, dim=-1)
    return {"sequence_values": values, "sequence_index": index.to(torch.int32)}


class TeacherScores:
    """A written scores folder, checked against the run that reads it."""

    def __init__(self, out_dir: str | Path, train: TrainConfig, extra: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        meta_path = self.out_dir / META_FILE
        if not meta_path.is_file():
            raise SetupError(f"{self.out_dir}: no {META_FILE}; write it with `slmrank train teacher-scores`")
        meta = json.loads(meta_path.read_text())
        expected = fingerprint(train, extra)
        for key, value in expected.items():
            if meta["fingerprint"].get(key) != value:
                raise SetupError(
                    f"{self.out_dir} was written for {key}={meta['fingerprint'].get(key)!r}, this run has {value!r}"
                )
        self._cache: tuple[int, list[dict[str, torch.Tensor]]] | None = None

    def _step(self, step: int) -> list[dict[str, torch.Tensor]]:
        if self._cache is None or self._cache[0] != step:
            self._cache = (step, torch.load(step_file(self.out_dir, step), weights_only=True))
        return self._cache[1]

    def terms(self, step: int, indices: list[int], student: LossTerms) -> LossTerms:
        """The teacher's LossTerms for groups `indices` of `step` (rows in the student's order)."""
        rows = [self._step(step)[i] for i in indices]
        target = torch.cat([r["label_target"] for r in rows]).to(student.label_target.device)
        if not torch.equal(target, student.label_target):
            raise SetupError(f"{self.out_dir}: step {step} holds other examples than this run draws")
        vocab = student.label_logits.shape[-1]
        device = student.label_logits.device
        return LossTerms(
            label_logits=torch.cat([r["label"] for r in rows]).to(device),
            label_target=target,
            sequence_logits=torch.cat([_dense(r, vocab) for r in rows]).to(device),
            sequence_target=student.sequence_target,
        )


def _dense(row: dict[str, torch.Tensor], vocab: int) -> torch.Tensor:
    if "sequence" in row:
        return row["sequence"]
    values, index = row["sequence_values"], row["sequence_index"].long()
    return torch.full((values.shape[0], vocab), ABSENT).scatter(1, index, values)
