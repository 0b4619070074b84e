"""Test-period evaluation of baselines and checkpoints, shared by the pipeline and `slmrank evaluate`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.checkpoint_writer import load_model, write_json
from training.data.split import ChronologicalSplit
from training.evaluation.baselines import BiasBaseline, PopularityBaseline
from training.evaluation.evaluator import score_baseline, score_model, summarise


def baseline_results(split: ChronologicalSplit, groups_by_task: dict[str, list]) -> dict[str, dict[str, Any]]:
    """Popularity and user+item bias, fitted on the train period, scored on the same test groups."""
    train = split.period_ratings("train")
    results = {}
    for baseline in (PopularityBaseline(train), BiasBaseline(train)):
        per_task = {t: score_baseline(baseline, g) for t, g in groups_by_task.items()}
        results[baseline.name] = {**summarise(per_task), "kind": "baseline", "num_parameters": None}
    return results


def checkpoint_result(
    model_dir: Path, split: ChronologicalSplit, tasks: Sequence[str], period: str = "test", groups_per_batch: int = 4
) -> dict[str, Any]:
    """AUCs of one saved checkpoint, its prompts built with its own tokenizer and prompt budgets."""
    from ranking.labels import resolve_all
    from training.data.example_builder import ExampleBuilder
    from training.model_factory import num_parameters

    model, tokenizer, card = load_model(model_dir)
    examples = ExampleBuilder(split, tokenizer, card.prompt, tasks)
    labels = resolve_all(tokenizer, [card.task(t) for t in tasks], model.config.vocab_size)
    started = time.perf_counter()
    per_task = {}
    for task in tasks:
        groups = examples.eval_groups(period, task)
        per_task[task] = score_model(
            model,
            groups,
            labels,
            tokenizer.pad_token_id,
            groups_per_batch,
            progress=f"eval {model_dir.parent.name}:{task}",
        )
    manifest_path = model_dir / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    return {
        **summarise(per_task),
        "kind": "model",
        "path": str(model_dir),
        "num_parameters": num_parameters(model),
        "eval_seconds": round(time.perf_counter() - started, 1),
        "train_seconds": manifest.get("train_seconds"),
        "teacher_forward_seconds": manifest.get("teacher_forward_seconds"),
    }


def evaluate_run(pipeline, stage_dir: Path) -> dict[str, Any]:
    """Baselines + teacher + students of a pipeline run; per-model results cached so a re-run resumes."""
    from training.recipes.pipeline import STUDENTS

    cfg = pipeline.config
    examples = pipeline.examples()
    groups_by_task = {t: examples.eval_groups("test", t) for t in cfg.tasks}
    models: dict[str, Any] = baseline_results(pipeline.split, groups_by_task)
    for role in ("teacher", *STUDENTS):
        cache = stage_dir / f"{role}.json"
        if not cache.exists():
            write_json(
                cache,
                checkpoint_result(
                    pipeline.out / role / "model", pipeline.split, cfg.tasks, groups_per_batch=cfg.eval_groups_per_batch
                ),
            )
        models[role] = json.loads(cache.read_text())
    summary = {"config": cfg.name, "metric": "global ROC AUC on the test period, mean over tasks", "models": models}
    write_json(stage_dir / "evaluation.json", summary)
    return summary
