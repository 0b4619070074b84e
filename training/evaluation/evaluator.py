"""The one evaluator: score evaluation groups with a checkpoint or a baseline, and summarise the scores per task.

Per task: global ROC AUC (the headline), per-member AUC (members with both classes), NDCG@10, log loss and
expected calibration error (for scores that are probabilities: a model's label log-odds through a sigmoid, the
bias baseline's fitted probability; not the popularity count).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from compression.export import checkpoint_bytes
from ranking.card import ModelCard
from ranking.labels import LabelTokens, resolve_all
from ranking.model_loader import is_quantized_checkpoint, load_checkpoint
from training.data.example_builder import RankGroup
from training.data.split import ChronologicalSplit
from training.evaluation.auc import mean_member_auc, roc_auc
from training.evaluation.baselines import Baseline
from training.evaluation.metrics import expected_calibration_error, log_loss, ndcg_at_k, sigmoid
from training.model_factory import num_parameters
from training.packed_batch import pack_groups
from training.packed_forward import label_log_odds, packed_hidden, rows_logits

NDCG_K = 10


@dataclass(frozen=True)
class TaskScores:
    """One score per evaluated candidate of one task, aligned with who and what it was and its label."""

    member_ids: np.ndarray
    item_ids: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def metrics(self, probabilities: np.ndarray | None = None) -> dict[str, Any]:
        """AUCs, NDCG@10, counts and positive rate; log loss and ECE when `probabilities` are given."""
        return {
            "auc": _none_if_nan(roc_auc(self.scores, self.labels)),
            "member_auc": _none_if_nan(mean_member_auc(self.member_ids.tolist(), self.scores, self.labels)),
            f"ndcg@{NDCG_K}": _none_if_nan(ndcg_at_k(self.member_ids, self.scores, self.labels, NDCG_K)),
            "log_loss": None if probabilities is None else _none_if_nan(log_loss(probabilities, self.labels)),
            "ece": None
            if probabilities is None
            else _none_if_nan(expected_calibration_error(probabilities, self.labels)),
            "num_candidates": int(self.labels.size),
            "positive_rate": float(self.labels.mean()) if self.labels.size else None,
        }


def save_task_scores(per_task: Mapping[str, TaskScores], path: str | Path) -> None:
    """Every candidate's score, member, item and label per task (what paired comparisons need), as .npz."""
    arrays = {f"{task}/{f.name}": getattr(ts, f.name) for task, ts in per_task.items() for f in fields(ts)}
    np.savez_compressed(path, **arrays)


def load_task_scores(path: str | Path) -> dict[str, TaskScores]:
    with np.load(path) as data:
        tasks = sorted({key.split("/", 1)[0] for key in data.files})
        return {t: TaskScores(**{f.name: data[f"{t}/{f.name}"] for f in fields(TaskScores)}) for t in tasks}


def collect(groups: Sequence[RankGroup], scores: Sequence[float]) -> TaskScores:
    """Align flat scores (in group order) with the groups' members, items and labels."""
    return TaskScores(
        member_ids=np.array([g.member_id for g in groups for _ in g.labels], dtype=str),
        item_ids=np.array([i for g in groups for i in g.item_ids], dtype=str),
        scores=np.asarray(scores, dtype=np.float64),
        labels=np.array([y for g in groups for y in g.labels], dtype=bool),
    )


def score_baseline(baseline: Baseline, split: ChronologicalSplit, period: str, task: str) -> TaskScores:
    """A baseline's `score(member_id, item_id)` for every candidate of the period, in eval_groups' order."""
    rows = [(m, e) for m, p in split.members.items() for e in p.period(period)]
    return TaskScores(
        member_ids=np.array([m for m, _ in rows], dtype=str),
        item_ids=np.array([e.item_id for _, e in rows], dtype=str),
        scores=np.array([baseline.score(m, e.item_id) for m, e in rows], dtype=np.float64),
        labels=np.array([e.label(task) for _, e in rows], dtype=bool),
    )


def score_model(
    model: Any,
    groups: Sequence[RankGroup],
    label_tokens: dict[str, LabelTokens],
    pad_id: int,
    groups_per_batch: int = 4,
    progress: str | None = None,
) -> TaskScores:
    """Log-odds of every candidate (prefix computed once per group through the packed block mask)."""
    # Similar lengths batched together waste less padding; scores are put back in group order after.
    order = sorted(range(len(groups)), key=lambda i: len(groups[i].prefix_ids) + sum(map(len, groups[i].suffix_ids)))
    by_group: dict[int, list[float]] = {}
    model.eval()
    batches = [order[i : i + groups_per_batch] for i in range(0, len(order), groups_per_batch)]
    with torch.inference_mode():
        for batch_ids in tqdm(batches, desc=progress or "score", disable=progress is None, dynamic_ncols=True):
            chunk = [groups[i] for i in batch_ids]
            batch = pack_groups(chunk, label_tokens, pad_id)
            hidden = packed_hidden(model, batch)
            odds = label_log_odds(rows_logits(model, hidden, batch.label_index), batch).cpu().tolist()
            offset = 0
            for i, g in zip(batch_ids, chunk, strict=True):
                by_group[i] = odds[offset : offset + len(g.labels)]
                offset += len(g.labels)
    return collect(groups, [s for i in range(len(groups)) for s in by_group[i]])


def summarise(per_task: Mapping[str, TaskScores], kind: str = "log_odds") -> dict[str, Any]:
    """{"tasks": {task: metrics}, "mean_auc", "mean_member_auc"}; `kind`: log_odds, probability or rank_score."""
    tasks = {name: scores.metrics(_probabilities(scores, kind)) for name, scores in per_task.items()}
    return {
        "tasks": tasks,
        "mean_auc": _mean(m["auc"] for m in tasks.values()),
        "mean_member_auc": _mean(m["member_auc"] for m in tasks.values()),
    }


def evaluate_checkpoint(
    model_dir: str | Path,
    groups_by_task: Mapping[str, Sequence[RankGroup]],
    groups_per_batch: int = 4,
    scores_out: str | Path | None = None,
) -> dict[str, Any]:
    """Metrics per task of any checkpoint the project writes (dense, pruned or quantized, via its own loader), with
    its size on disk; with `scores_out`, every candidate's score is saved there for paired comparisons."""
    path = Path(model_dir)
    loaded = load_checkpoint(path, device="cpu", dtype="float32")
    card = ModelCard.load(path)
    labels = resolve_all(loaded.tokenizer, [card.task(t) for t in groups_by_task], loaded.vocab_size)
    started = time.perf_counter()
    per_task = {
        task: score_model(
            loaded.model, groups, labels, loaded.tokenizer.pad_token_id, groups_per_batch, f"eval {path.name}:{task}"
        )
        for task, groups in groups_by_task.items()
    }
    if scores_out is not None:
        save_task_scores(per_task, scores_out)
    quantized = is_quantized_checkpoint(path)
    return {
        **summarise(per_task),
        "kind": "model",
        "path": str(path),
        # A quantized model's dequantized skeleton would count float weights it does not store.
        "num_parameters": None if quantized else num_parameters(loaded.model),
        "bytes": checkpoint_bytes(path),
        "is_quantized": quantized,
        "eval_seconds": round(time.perf_counter() - started, 1),
    }


def _probabilities(scores: TaskScores, kind: str) -> np.ndarray | None:
    if kind == "log_odds":
        return sigmoid(scores.scores)
    if kind == "probability":
        return np.clip(scores.scores, 0.0, 1.0)
    return None


def _mean(values: Any) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _none_if_nan(value: float) -> float | None:
    return None if np.isnan(value) else float(value)
