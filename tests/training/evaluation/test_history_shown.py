"""How many history items a checkpoint's prompts show: counted against the prompt builder, grows with the budget."""

from __future__ import annotations

from pathlib import Path

from ranking.card import ModelCard
from ranking.prompt_builder import PromptBuilder, PromptConfig
from tests.tiny_checkpoint import TASKS, make_tiny_checkpoint
from training.data.split import ChronologicalSplit
from training.evaluation.history_shown import history_shown


def checkpoint(tmp_path: Path, tokenizer, max_prefix_len: int) -> Path:
    card = ModelCard("tiny", tuple(TASKS.values()), PromptConfig(max_prefix_len=max_prefix_len, max_profile_len=48))
    return make_tiny_checkpoint(tmp_path / str(max_prefix_len), tokenizer=tokenizer, card=card, num_layers=1)


def test_counts_match_the_prompt_builder_and_grow_with_the_budget(split: ChronologicalSplit, tokenizer, tmp_path):
    small = history_shown(split, checkpoint(tmp_path, tokenizer, 128))
    large = history_shown(split, checkpoint(tmp_path, tokenizer, 2048))
    assert small["num_members"] == large["num_members"] == sum(bool(p.test) for p in split.members.values())
    assert small["median_shown"] < large["median_shown"] == large["median_available"]
    # The plain count: build each member's test prompt in full and read how many lines the builder kept.
    builder = PromptBuilder(tokenizer, PromptConfig(max_prefix_len=128, max_profile_len=48))
    from training.data.example_builder import member_at

    counts = sorted(
        builder.build(member_at(split.data, p, p.test_start), [], TASKS["like"]).num_history_shown
        for p in split.members.values()
        if p.test
    )
    assert (small["min_shown"], small["max_shown"]) == (counts[0], counts[-1])


def test_a_label_rates_model_is_counted_with_its_rates_in_the_prefix(split: ChronologicalSplit, tokenizer, tmp_path):
    from training.data.example_builder import ExampleBuilder

    config = PromptConfig(max_prefix_len=128, max_profile_len=48, label_rates=True)
    model = make_tiny_checkpoint(
        tmp_path / "rates", tokenizer=tokenizer, card=ModelCard("tiny", tuple(TASKS.values()), config), num_layers=1
    )
    found = history_shown(split, model)
    examples = ExampleBuilder(split, tokenizer, config, ["like"])
    counts = sorted(
        examples.builder.build(examples.member_for(p, "test"), [], TASKS["like"]).num_history_shown
        for p in split.members.values()
        if p.test
    )
    assert (found["min_shown"], found["max_shown"]) == (counts[0], counts[-1])
