"""The `smoke` pipeline end to end on the real MovieLens files: report, loadable checkpoints, resume, ship."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ranking.card import ModelCard
from training.data.movielens_converter import convert
from training.recipes.config_loader import load_config
from training.recipes.pipeline import Pipeline

SMOKE = load_config("smoke")


@pytest.mark.slow
def test_smoke_pipeline_produces_loadable_checkpoints(tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.evaluation.report import write_report
    from training.shipper import ship

    torch.set_num_threads(1)
    data = convert(tmp_path / "movielens")
    pipeline = Pipeline(SMOKE, tmp_path / "run", data)
    summary = pipeline.run()
    assert {"popularity", "user+item bias", "teacher", "student-kd", "student-sft"} <= set(summary["models"])
    for m in summary["models"].values():
        assert set(m["tasks"]) == {"like", "love"}
        assert 0.0 <= m["mean_auc"] <= 1.0
    paths = write_report(summary, pipeline.timings(), ["like", "love"], tmp_path / "report", "training-smoke")
    assert all(p.exists() for p in paths)
    assert "Δ mean vs teacher" in paths[0].read_text()

    shipped = ship(tmp_path / "run" / "student-kd" / "model", tmp_path / "default", "slmrank train pipeline ...")
    model = AutoModelForCausalLM.from_pretrained(str(shipped), local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(shipped), local_files_only=True)
    assert model.config.architectures == ["Qwen3ForCausalLM"]
    assert model.config.num_key_value_heads < model.config.num_attention_heads
    assert len(tok.encode(" Yes", add_special_tokens=False)) == 1
    assert ModelCard.load(shipped).prompt == SMOKE.prompt
    manifest = json.loads((shipped / "manifest.json").read_text())
    assert manifest["metrics"]["mean_auc"] == summary["models"]["student-kd"]["mean_auc"]
    assert len(manifest["data"]["sha256"]["interactions.jsonl"]) == 64
    assert "Harper" in (shipped / "README.md").read_text()

    # A second run finds every stage done and returns the same summary without retraining.
    again = Pipeline(SMOKE, tmp_path / "run", data).run()
    assert again == summary


def test_configs_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SMOKE.name = "x"  # type: ignore[misc]


def test_a_label_rates_run_writes_the_rates_contract_into_its_cards(dataset, tmp_path: Path) -> None:
    """The card says how to compute the rates, with the run's train-period priors, and its example carries them."""
    import dataclasses

    from training.data.example_builder import label_rates_for
    from training.data.split import ChronologicalSplit

    tiny = load_config("tiny")
    config = dataclasses.replace(tiny, prompt=dataclasses.replace(tiny.prompt, label_rates=True))
    dataset.save(tmp_path / "data")
    pipeline = Pipeline(config, tmp_path / "run", tmp_path / "data")
    pipeline.prepare_tokenizer(tmp_path / "run" / "tokenizer")
    contract = pipeline.input_contract()
    prior = label_rates_for(ChronologicalSplit(dataset)).prior
    assert contract.label_rates is not None
    assert all(f"{task} {rate:.4f}" in contract.label_rates for task, rate in prior.items())
    assert contract.example is not None
    assert contract.example["member"]["label_rates"] == {task: round(rate, 2) for task, rate in prior.items()}
    plain = Pipeline(tiny, tmp_path / "plain", tmp_path / "data")
    assert plain.input_contract().label_rates is None
    assert contract.similar_rates is None and "similar_rates" not in contract.example["candidates"][0]


def test_a_similar_rates_run_trains_and_writes_the_contract_into_its_card(dataset, tmp_path: Path) -> None:
    """With similar-items rates the tokenizer learns their line, the card says how to compute them, its example
    carries them, and a trained checkpoint's card keeps the setting."""
    from ranking.card import ModelCard
    from ranking.prompt_template import similar_rate_line
    from training.recipes.pipeline import TEACHER

    config = load_config("tiny", ["prompt.label_rates=true", "prompt.similar_rates=true", "teacher_train.steps=2"])
    dataset.save(tmp_path / "data")
    pipeline = Pipeline(config, tmp_path / "run", tmp_path / "data")
    pipeline.stage("tokenizer", pipeline.prepare_tokenizer)
    contract = pipeline.input_contract()
    assert contract.similar_rates is not None and "sqrt" in contract.similar_rates
    member_rates = contract.example["member"]["label_rates"]
    assert all(c["similar_rates"] == member_rates for c in contract.example["candidates"])
    line = similar_rate_line(0.55).lstrip("\n")
    rates_only = Pipeline(load_config("tiny", ["prompt.label_rates=true"]), tmp_path / "other", tmp_path / "data")
    rates_only.stage("tokenizer", rates_only.prepare_tokenizer)
    learnt, unlearnt = (len(p.tokenizer().encode(line, add_special_tokens=False)) for p in (pipeline, rates_only))
    assert learnt < unlearnt  # the tokenizer saw the line
    pipeline.train_stage(TEACHER)
    card = ModelCard.load(tmp_path / "run" / TEACHER.name / "model")
    assert card.prompt.similar_rates is True and card.input_contract.similar_rates == contract.similar_rates


def test_the_sft_student_trains_on_its_own_schedule(dataset, tmp_path: Path) -> None:
    """`[sft_train]` changes the SFT student's schedule alone; the KD student and the teacher keep theirs."""
    from training.recipes.pipeline import STUDENTS, TEACHER

    config = load_config("tiny", ["student_train.steps=2", "sft_train.steps=3", "sft_train.learning_rate=0.5"])
    dataset.save(tmp_path / "data")
    pipeline = Pipeline(config, tmp_path / "run", tmp_path / "data")
    kd, sft = STUDENTS
    assert pipeline.train_config(kd) == config.student_train
    assert pipeline.train_config(TEACHER) == config.teacher_train
    assert pipeline.train_config(sft).steps == 3 and pipeline.train_config(sft).learning_rate == 0.5
    assert pipeline.train_config(sft).groups_per_step == config.student_train.groups_per_step
    pipeline.stage("tokenizer", pipeline.prepare_tokenizer)
    pipeline.train_stage(sft)
    log = (tmp_path / "run" / sft.name / "train_log.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in log if "loss" in line] == [1, 2, 3]
