"""How much of a member's history a checkpoint's prompts show: the prefix token budget in history items.

The prompt builder keeps the most recent history lines that fit `max_prefix_len` after the instruction and
profile, so a long history is cut to its last few items; this counts them for every member of a period.
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from ranking.card import ModelCard
from training.data.example_builder import ExampleBuilder
from training.data.split import ChronologicalSplit


def history_shown(split: ChronologicalSplit, model_dir: Path, period: str = "test") -> dict[str, Any]:
    """Per member with a `period`: history items its prompt shows (first task) and items available before it."""
    from transformers import AutoTokenizer

    card = ModelCard.load(model_dir)
    task = card.tasks[0]  # the instruction's length differs a little per task; the first one stands for all
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    # The evaluation's own member rendering (label rates included when the card shows them).
    examples = ExampleBuilder(split, tokenizer, card.prompt, [task.name])
    shown, available = [], []
    for periods in split.members.values():
        if not periods.period(period):
            continue
        start = periods.period_start(period)
        shown.append(examples.builder.member_prefix(examples.member_for_index(periods, start), task)[1])
        available.append(start)
    if not shown:
        raise ValueError(f"no member has a {period} period")
    return {
        "max_prefix_len": card.prompt.max_prefix_len,
        "num_members": len(shown),
        "median_shown": statistics.median(shown),
        "min_shown": min(shown),
        "max_shown": max(shown),
        "median_available": statistics.median(available),
    }
