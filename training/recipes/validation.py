"""Checkpoint selection on the val split: mean over tasks of the per-member AUC on a fixed set of members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ranking.labels import LabelTokens
from ranking.prompt_builder import PromptConfig
from training.data.example_builder import ExampleBuilder
from training.data.split import ChronologicalSplit
from training.evaluation.evaluator import score_model, summarise
from training.recipes.pipeline_config import ValConfig
from training.trainer import Validator


def val_member_auc(
    split: ChronologicalSplit,
    tokenizer: Any,
    prompt: PromptConfig,
    tasks: Sequence[str],
    labels: dict[str, LabelTokens],
    config: ValConfig,
) -> Validator | None:
    """A validator scoring the first `max_members` members' val interactions, or None when val is off or empty."""
    if config.every <= 0:
        return None
    examples = ExampleBuilder(split, tokenizer, prompt, tasks)
    keep = set(list(split.members)[: config.max_members])
    groups = {t: [g for g in examples.eval_groups("val", t) if g.member_id in keep] for t in tasks}
    if not any(groups.values()):
        return None

    def validate(model: Any) -> float:
        per_task = {
            t: score_model(model, g, labels, tokenizer.pad_token_id, config.groups_per_batch) for t, g in groups.items()
        }
        value = summarise(per_task)["mean_member_auc"]
        return float("-inf") if value is None else float(value)

    return validate
