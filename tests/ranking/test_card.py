"""The model card: round trip, validation that names the field, and `slmrank card init|show`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ranking.card import CARD_FILE, CardError, ModelCard
from ranking.input_contract import InputContract
from ranking.prompt_builder import PromptConfig
from ranking.tasks import Task
from slmrank.cli import main
from tests.tiny_checkpoint import TASKS

JOB = Task("apply", "Task: predict whether the member will apply to the job.", "Will they apply?", " Yes", " No")


def test_round_trip_keeps_every_field(tmp_path: Path) -> None:
    card = ModelCard("m", (JOB, TASKS["like"]), PromptConfig(max_prefix_len=512), InputContract("job title", "x", "y"))
    card.save(tmp_path)
    loaded = ModelCard.load(tmp_path)
    assert loaded == card
    assert loaded.default_task == "apply"
    assert loaded.task("like") == TASKS["like"]
    with pytest.raises(KeyError, match=r"this model's tasks: \['apply', 'like'\]"):
        loaded.task("love")


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["tasks"][0].update(labels=[" Yes"]), "tasks[0].labels"),
        (lambda d: d["tasks"][0].update(labels=[" Yes", " Yes"]), "tasks[0].labels"),
        (lambda d: d["tasks"][0].pop("question"), "tasks[0].question"),
        (lambda d: d["tasks"][0].update(name="a b"), "tasks[0].name"),
        (lambda d: d.update(tasks=[]), "tasks"),
        (lambda d: d.update(tasks=["like"]), "tasks[0]"),
        (lambda d: d["prompt"].update(max_prefix_len="big"), "prompt.max_prefix_len"),
        (lambda d: d["prompt"].update(max_prefix_len=10), "prompt"),
        (lambda d: d["prompt"].update(colour=1), "prompt"),
        (lambda d: d.update(extra=1), "unknown field"),
        (lambda d: d.update(card_version=99), "card_version"),
        (lambda d: d["input"].update(example=[1]), "input.example"),
        (lambda d: d.update(model_name=""), "model_name"),
    ],
)
def test_a_bad_card_is_refused_naming_the_field(tmp_path: Path, mutate, field: str) -> None:
    data = ModelCard("m", (JOB,)).to_dict()
    mutate(data)
    (tmp_path / CARD_FILE).write_text(json.dumps(data))
    with pytest.raises(CardError, match=re.escape(CARD_FILE) + ": .*" + re.escape(field)):
        ModelCard.load(tmp_path)


def test_a_checkpoint_without_a_card_says_how_to_write_one(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="slmrank card init --model DIR --task NAME"):
        ModelCard.load(tmp_path)


def _init(model: Path, *extra: str) -> int:
    return main(
        [
            *f"card init --model {model} --task apply".split(),
            "--instruction",
            JOB.instruction,
            "--question",
            JOB.question,
            "--labels",
            " Yes",
            " No",
            "--max-prefix-len",
            "512",
            *extra,
        ]
    )


def test_card_init_writes_a_card_the_loader_reads(tiny_checkpoint_copy: Path, capsys) -> None:
    (tiny_checkpoint_copy / CARD_FILE).unlink()
    assert _init(tiny_checkpoint_copy, "--name", "jobs-v1") == 0
    card = ModelCard.load(tiny_checkpoint_copy)
    assert (card.model_name, card.tasks, card.prompt.max_prefix_len) == ("jobs-v1", (JOB,), 512)
    assert _init(tiny_checkpoint_copy) == 2  # never overwrites without --force
    assert "exists" in capsys.readouterr().err
    assert main(["card", "show", "--model", str(tiny_checkpoint_copy)]) == 0


def test_card_init_refuses_a_multi_token_label_naming_its_tokens(tiny_checkpoint_copy: Path, capsys) -> None:
    (tiny_checkpoint_copy / CARD_FILE).unlink()
    code = main(
        [
            *f"card init --model {tiny_checkpoint_copy} --task t --instruction i --question q".split(),
            "--labels",
            " Absolutely",
            " No",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and not (tiny_checkpoint_copy / CARD_FILE).exists()
    assert err.count("\n") == 1 and "task 't': label ' Absolutely' is" in err and "tokens" in err


def test_card_init_needs_one_group_per_task(tiny_checkpoint_copy: Path, capsys) -> None:
    (tiny_checkpoint_copy / CARD_FILE).unlink()
    code = main(
        [
            *f"card init --model {tiny_checkpoint_copy} --task a --task b --instruction i --question q".split(),
            "--labels",
            " Yes",
            " No",
        ]
    )
    assert code == 2 and "once per task" in capsys.readouterr().err


@pytest.fixture
def tiny_checkpoint_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A writable copy of the session's tiny checkpoint (its card may be rewritten)."""
    import shutil

    return Path(shutil.copytree(tiny_model_dir, tmp_path / "ckpt"))
