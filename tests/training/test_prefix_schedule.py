"""The prefix curriculum: the first steps draw exactly what a builder with the short budget draws, the rest what
the card's budget draws; a schedule that cannot work is refused up front naming the key."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ranking.prompt_builder import PromptConfig
from training.data.example_builder import ExampleBuilder
from training.prefix_schedule import PrefixSchedule
from training.recipes.config_loader import load_config
from training.recipes.pipeline import Pipeline
from training.setup_error import SetupError
from training.trainer import TrainConfig

FULL = PromptConfig(max_prefix_len=192, max_profile_len=32, label_rates=True)


def draw(examples: ExampleBuilder, step: int):
    return examples.train_groups(np.random.default_rng([0, step]), 4)


def test_short_steps_draw_the_short_budgets_groups_then_the_cards(split, tokenizer) -> None:
    full = ExampleBuilder(split, tokenizer, FULL, ["like"], group_size=4)
    short_ref = ExampleBuilder(split, tokenizer, replace(FULL, max_prefix_len=100), ["like"], group_size=4)
    schedule = PrefixSchedule(full, TrainConfig(short_prefix_len=100, short_prefix_steps=3))
    for step in range(6):
        reference = short_ref if step < 3 else full
        assert draw(schedule.at(step), step) == draw(reference, step)
    short_lengths = [len(g.prefix_ids) for s in range(3) for g in draw(schedule.at(s), s)]
    full_lengths = [len(g.prefix_ids) for s in range(3, 6) for g in draw(schedule.at(s), s)]
    assert max(short_lengths) <= 100 < max(full_lengths)
    # The short builder shares the rates and the targets, so only the history window differs.
    assert schedule.short.rates is full.rates and schedule.short.num_train_targets == full.num_train_targets
    assert PrefixSchedule(full, TrainConfig()).at(0) is full


@pytest.mark.parametrize(
    ("short_len", "short_steps", "message"),
    [
        (192, 2, r"short_prefix_len \(192\) must be below prompt.max_prefix_len \(192\)"),
        (64, 2, r"short_prefix_len \(64\) is not a valid prefix budget: .*64 tokens beyond the profile"),
        (0, 2, "not a valid prefix budget"),
        (128, -1, "short_prefix_steps must be >= 0"),
    ],
)
def test_a_schedule_that_cannot_work_is_refused(split, tokenizer, short_len, short_steps, message) -> None:
    full = ExampleBuilder(split, tokenizer, FULL, ["like"])
    with pytest.raises(SetupError, match=message):
        PrefixSchedule(full, TrainConfig(short_prefix_len=short_len, short_prefix_steps=short_steps))


def test_the_pipeline_refuses_it_before_any_stage_naming_the_section(dataset, tmp_path: Path) -> None:
    dataset.save(tmp_path / "data")
    config = load_config("tiny", ["sft_train.short_prefix_steps=2", "sft_train.short_prefix_len=4096"])
    with pytest.raises(SetupError, match=r"sft_train\.short_prefix_len"):
        Pipeline(config, tmp_path / "run", tmp_path / "data")
    assert not (tmp_path / "run").exists()
