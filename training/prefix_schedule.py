"""A prefix-length curriculum: the first steps of a stage on shorter member prefixes, the rest at the served length.

Long member prefixes are what the serving design is for, and what a step costs grows with them (2.7x from 256 to
1,024 tokens on the demo's teacher). A model trained only on short prefixes and served long ones loses its
calibration, while a short finish at the served length recovers it and gains from the longer history
(`training/reports/long-prefix-issue14.md`). So a stage may draw its first `short_prefix_steps` steps from the same
examples with a `short_prefix_len`-token prefix budget, and the remaining ones at the card's `max_prefix_len`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ranking.prompt_builder import PromptConfig
from training.data.example_builder import ExampleBuilder
from training.setup_error import SetupError

if TYPE_CHECKING:
    from training.trainer import TrainConfig


class PrefixSchedule:
    """Which ExampleBuilder step `step` (0-based) of a stage draws its groups from."""

    def __init__(self, examples: ExampleBuilder, train: TrainConfig) -> None:
        check_prefix_schedule(train, examples.builder.config)
        self.full = examples
        self.short_steps = train.short_prefix_steps
        self.short = examples.with_prefix_len(train.short_prefix_len) if self.short_steps else examples

    def at(self, step: int) -> ExampleBuilder:
        return self.short if step < self.short_steps else self.full


def check_prefix_schedule(train: TrainConfig, prompt: PromptConfig, section: str = "train") -> None:
    """One line naming the key when a curriculum cannot work: no shorter budget, or not a valid prompt budget."""
    steps, short = train.short_prefix_steps, train.short_prefix_len
    if steps < 0:
        raise SetupError(f"{section}.short_prefix_steps must be >= 0, got {steps}")
    if not steps:
        return
    if short >= prompt.max_prefix_len:
        raise SetupError(
            f"{section}.short_prefix_len ({short}) must be below prompt.max_prefix_len ({prompt.max_prefix_len})"
        )
    try:
        replace(prompt, max_prefix_len=short)
    except ValueError as exc:
        raise SetupError(f"{section}.short_prefix_len ({short}) is not a valid prefix budget: {exc}") from None
