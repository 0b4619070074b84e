"""Where the load tester reads the task texts: a checkpoint's card, or the gateway's GET /v1/models."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from loadtest.model_card_source import card_from_models_list, task_for
from tests.loadtest.demo_task import DEMO_CARD

MODELS_DIR = Path(__file__).resolve().parents[2] / "models" / "default"


def listing(*names: str) -> dict:
    return {"object": "list", "data": [{"id": n, "card": {**DEMO_CARD.to_dict(), "model_name": n}} for n in names]}


def args(**kw) -> argparse.Namespace:
    base = {"model": None, "target": "gateway", "url": "http://x", "api_key": None, "model_name": None,
            "wait_ready_s": 0.0, "task": None}  # fmt: skip
    return argparse.Namespace(**{**base, **kw})


def test_first_or_named_model_of_the_listing() -> None:
    assert card_from_models_list(listing("a", "b"), None).model_name == "a"
    assert card_from_models_list(listing("a", "b"), "b").model_name == "b"
    with pytest.raises(ValueError, match="no model named 'c'"):
        card_from_models_list(listing("a"), "c")
    with pytest.raises(ValueError, match="no card"):
        card_from_models_list({"data": [{"id": "vllm-model"}]}, None)


def test_task_from_a_checkpoint_directory() -> None:
    assert task_for(args(model=str(MODELS_DIR))).task == DEMO_CARD.task(DEMO_CARD.default_task)
    assert task_for(args(model=str(MODELS_DIR), task="love")).task.name == "love"
    with pytest.raises(ValueError, match="unknown task"):
        task_for(args(model=str(MODELS_DIR), task="nope"))


def test_engine_targets_need_a_model_directory() -> None:
    with pytest.raises(ValueError, match="--model DIR"):
        task_for(args(target="vllm-completions"))
