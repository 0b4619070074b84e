"""The committed default model: loadable offline, small, labelled, and traceable to the exact data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ranking.card import ModelCard
from ranking.labels import resolve_all
from tests.tiny_checkpoint import TASKS
from training.data.movielens import DEFAULT_DATA_DIR, file_sha256
from training.shipper import MAX_SHIPPED_BYTES

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "models" / "default"

pytestmark = pytest.mark.skipif(not (DEFAULT / "config.json").exists(), reason="models/default not shipped yet")


def test_loads_offline_with_single_token_labels() -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(DEFAULT), local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(DEFAULT), local_files_only=True)
    assert model.config.architectures == ["Qwen3ForCausalLM"]
    assert model.config.max_position_embeddings >= 4096
    resolve_all(tokenizer, TASKS.values(), model.config.vocab_size)  # raises on a bad label


def test_small_and_traceable(tmp_path: Path) -> None:
    """The manifest's data digests are those of the shipped CSVs converted afresh (`slmrank data movielens`)."""
    from training.data.movielens import MovieLens
    from training.data.movielens_converter import movielens_dataset

    assert sum(f.stat().st_size for f in DEFAULT.iterdir()) <= MAX_SHIPPED_BYTES
    manifest = json.loads((DEFAULT / "manifest.json").read_text())
    converted = movielens_dataset(MovieLens.load(DEFAULT_DATA_DIR)).save(tmp_path / "ml")
    assert set(manifest["data"]["sha256"]) == {"dataset.json", "items.jsonl", "interactions.jsonl", "members.jsonl"}
    for name, digest in manifest["data"]["sha256"].items():
        assert file_sha256(converted / name) == digest, name
    assert manifest["metrics"]["mean_auc"] > 0.5
    card = ModelCard.load(DEFAULT)
    assert card.task_names == ["like", "love"]
    assert card.tasks == tuple(TASKS.values())  # the card carries the demo's tasks, text for text
    assert "Harper" in (DEFAULT / "README.md").read_text()


def test_the_demo_preset_is_what_the_shipped_model_was_trained_with() -> None:
    """The README's reproduce command (`--config demo`) must give the shipped model's recipe: prompt budgets (the
    card), student shape, KD schedule (prefix curriculum included), distillation and split (the manifest)."""
    from dataclasses import asdict

    from training.recipes.config_loader import load_config

    demo = load_config("demo")
    manifest = json.loads((DEFAULT / "manifest.json").read_text())
    assert ModelCard.load(DEFAULT).prompt == demo.prompt
    assert manifest["stage"] == "student-kd"
    assert manifest["train_config"] == asdict(demo.student_train)
    assert manifest["init"]["model_config"] == asdict(demo.student)
    assert manifest["distill"] == asdict(demo.distill)
    assert manifest["split"] == asdict(demo.split)
