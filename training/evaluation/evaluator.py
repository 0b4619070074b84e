"""Score evaluation groups with a model or a baseline, and turn the scores into per-task and mean AUCs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from ranking.labels import LabelTokens
from training.data.example_builder import RankGroup
from training.evaluation.auc import mean_member_auc, roc_auc


@dataclass(frozen=True)
class TaskScores:
    """One score per evaluated candidate of one task, aligned with who and what it was and its label."""

    member_ids: np.ndarray
    movie_ids: np.ndarray
    scores: np.ndarray
    labels: np.ndarray

    def metrics(self) -> dict[str, float]:
        """Global AUC (the headline), per-member mean AUC, counts and positive rate."""
        return {
            "auc": roc_auc(self.scores, self.labels),
            "member_auc": mean_member_auc(self.member_ids.tolist(), self.scores, self.labels),
            "num_candidates": int(self.labels.size),
            "positive_rate": float(self.labels.mean()) if self.labels.size else float("nan"),
        }


def save_task_scores(per_task: dict[str, TaskScores], path: str | Path) -> None:
    """Every candidate's score, member, movie and label per task (what paired comparisons need), as .npz."""
    arrays = {f"{task}/{field.name}": getattr(ts, field.name) for task, ts in per_task.items() for field in fields(ts)}
    np.savez_compressed(path, **arrays)


def load_task_scores(path: str | Path) -> dict[str, TaskScores]:
    with np.load(path) as data:
        tasks = sorted({key.split("/", 1)[0] for key in data.files})
        return {t: TaskScores(**{f.name: data[f"{t}/{f.name}"] for f in fields(TaskScores)}) for t in tasks}


def collect(groups: Sequence[RankGroup], scores: Sequence[float]) -> TaskScores:
    """Align flat scores (in group order) with the groups' members, movies and labels."""
    return TaskScores(
        member_ids=np.array([g.user_id for g in groups for _ in g.labels], dtype=np.int64),
        movie_ids=np.array([m for g in groups for m in g.movie_ids], dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float64),
        labels=np.array([y for g in groups for y in g.labels], dtype=bool),
    )


def score_baseline(baseline, groups: Sequence[RankGroup]) -> TaskScores:
    """A baseline's `score(user_id, movie_id)` for every candidate."""
    scores = [baseline.score(g.user_id, m) for g in groups for m in g.movie_ids]
    return collect(groups, scores)


def score_model(
    model,
    groups: Sequence[RankGroup],
    label_tokens: dict[str, LabelTokens],
    pad_id: int,
    groups_per_batch: int = 4,
    progress: str | None = None,
) -> TaskScores:
    """Log-odds of every candidate (prefix computed once per group through the packed block mask)."""
    import torch
    from tqdm import tqdm

    from training.packed_batch import pack_groups
    from training.packed_forward import label_log_odds, packed_hidden, rows_logits

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


def summarise(per_task: dict[str, TaskScores]) -> dict[str, object]:
    """{"tasks": {task: metrics}, "mean_auc": mean over tasks, "mean_member_auc": ...} (the paper's mean)."""
    tasks = {name: scores.metrics() for name, scores in per_task.items()}
    return {
        "tasks": tasks,
        "mean_auc": float(np.mean([m["auc"] for m in tasks.values()])),
        "mean_member_auc": float(np.mean([m["member_auc"] for m in tasks.values()])),
    }
