"""Baselines and checkpoints scored on one period of one dataset: the table behind `slmrank evaluate` and reports.

Each model's result (and every candidate's score, for paired intervals) is written as soon as it is finished,
and a model that fails to load or score is recorded with its error instead of losing the rows before it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ranking.card import ModelCard
from training.checkpoint_writer import write_json
from training.data.example_builder import ExampleBuilder, RankGroup, label_rates_for, similar_rates_for
from training.data.split import ChronologicalSplit
from training.evaluation.baselines import BiasBaseline, PopularityBaseline
from training.evaluation.bias_as_of_cutoff import BiasAsOfCutoff
from training.evaluation.evaluator import evaluate_checkpoint, save_task_scores, score_baseline, summarise
from training.evaluation.matrix_factorisation import (
    MatrixFactorisation,
    MatrixFactorisationConfig,
    tune_matrix_factorisation,
)
from training.evaluation.rate_baseline import RateBaseline
from training.evaluation.similar_items_baseline import BiasPlusSimilarItems

Progress = Callable[[str, dict[str, Any]], None]

log = logging.getLogger(__name__)


def eval_groups(
    split: ChronologicalSplit, model_dir: Path, tasks: Sequence[str], period: str
) -> dict[str, list[RankGroup]]:
    """The period's groups per task, tokenized with the checkpoint's own tokenizer and prompt budgets."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    examples = ExampleBuilder(split, tokenizer, ModelCard.load(model_dir).prompt, tasks)
    return {t: examples.eval_groups(period, t) for t in tasks}


def evaluate_table(
    split: ChronologicalSplit,
    models: Mapping[str, Path],
    tasks: Sequence[str],
    out_dir: Path,
    period: str = "test",
    groups_per_batch: int = 4,
    progress: Progress | None = None,
    use_cache: bool = True,
) -> dict[str, Any]:
    """{"models": {name: result}} for the baselines and every model; each result is written to out_dir/<name>.json
    as it finishes and, with `use_cache` (a resumed pipeline run), read back instead of recomputed."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    for name, result in baseline_results(split, tasks, period, out_dir).items():
        results[name] = result
        if progress is not None:
            progress(name, result)
    for name, model_dir in models.items():
        cache = out_dir / f"{safe_name(name)}.json"
        if use_cache and cache.exists():
            results[name] = json.loads(cache.read_text())
        else:
            results[name] = model_result(split, model_dir, tasks, period, cache, groups_per_batch)
        if progress is not None:
            progress(name, results[name])
    return {"period": period, "tasks": list(tasks), "models": results}


def model_result(
    split: ChronologicalSplit, model_dir: Path, tasks: Sequence[str], period: str, cache: Path, groups_per_batch: int
) -> dict[str, Any]:
    """One checkpoint's result, also written to `cache`; an error becomes {"error": ...}, not a crash."""
    try:
        groups = eval_groups(split, model_dir, tasks, period)
        scores_out = cache.with_suffix(".scores.npz")
        result = evaluate_checkpoint(model_dir, groups, groups_per_batch, scores_out)
        result["scores"] = str(scores_out)
    except (OSError, ValueError, KeyError, RuntimeError, ImportError) as exc:
        return {"kind": "model", "path": str(model_dir), "error": f"{type(exc).__name__}: {exc}"}
    write_json(cache, result)
    return result


def baseline_results(
    split: ChronologicalSplit, tasks: Sequence[str], period: str, out_dir: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Popularity, user+item bias and matrix factorisation (one per task), fitted on the whole train period (the
    MF's rank and regularisation chosen on the val period), and two that see no interaction from at or after a
    member's cutoff (`past_only`, like a model's prompt): user+item rates, the user+item bias model fitted on the
    past of each cutoff, and that model plus the member's rate on similar items; all scored on the period."""
    train = split.period_events("train")
    popularity = PopularityBaseline(train)
    factorisations, tuning = matrix_factorisations(split, tasks)
    rates = label_rates_for(split)  # built once, shared by every task's rates baseline
    biases = {t: BiasAsOfCutoff(split, period, t) for t in tasks}
    per_baseline = {
        popularity.name: ({t: score_baseline(popularity, split, period, t) for t in tasks}, "rank_score"),
        BiasBaseline.name: (
            {t: score_baseline(BiasBaseline(train, t), split, period, t) for t in tasks},
            "probability",
        ),
        MatrixFactorisation.name: (
            {t: score_baseline(factorisations[t], split, period, t) for t in tasks},
            "probability",
        ),
        RateBaseline.name: (
            {t: score_baseline(RateBaseline(split, period, t, rates), split, period, t) for t in tasks},
            "probability",
        ),
        BiasAsOfCutoff.name: ({t: score_baseline(biases[t], split, period, t) for t in tasks}, "probability"),
    }
    similar = similar_rates_for(split, required=False)  # a dense items x members table
    if similar is not None:
        per_baseline[BiasPlusSimilarItems.name] = (
            {
                t: score_baseline(BiasPlusSimilarItems(split, period, t, biases[t], rates, similar), split, period, t)
                for t in tasks
            },
            "rank_score",
        )
    else:
        log.info("baseline %r skipped: the items x members table exceeds its memory limit", BiasPlusSimilarItems.name)
    past_only = {RateBaseline.name, BiasAsOfCutoff.name, BiasPlusSimilarItems.name}
    results = {}
    for name, (per_task, kind) in per_baseline.items():
        results[name] = {**summarise(per_task, kind), "kind": "baseline", "num_parameters": None}
        results[name]["past_only"] = name in past_only
        if out_dir is not None:
            path = out_dir / f"{safe_name(name)}.scores.npz"
            save_task_scores(per_task, path)
            results[name]["scores"] = str(path)
    results[MatrixFactorisation.name]["tuning"] = tuning
    return results


def matrix_factorisations(
    split: ChronologicalSplit, tasks: Sequence[str]
) -> tuple[dict[str, MatrixFactorisation], dict[str, Any]]:
    """Per task the MF fitted on train with the (rank, reg) best on val, and what each tried setting scored."""
    train, val = split.period_events("train"), split.period_events("val")
    models, tuning = {}, {}
    for task in tasks:
        # Without a val period (a tiny dataset) the defaults are used untuned.
        config, tries = tune_matrix_factorisation(train, val, task) if val else (MatrixFactorisationConfig(), [])
        models[task] = MatrixFactorisation(train, task, config)
        tuning[task] = {"rank": config.rank, "reg": config.reg, "tries": tries}
    return models, tuning


def safe_name(name: str) -> str:
    """A file name for a row: letters, digits, '-', '_' and '.' kept, anything else '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
