"""A model with its own tokenizer and its own task (job recommendation, labels " Yes"/" No") serves that task only;
a card whose label is not one token of the model's tokenizer stops start-up naming the task, label and tokens."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ranking.card import ModelCard
from ranking.input_contract import InputContract
from ranking.labels import LabelTokenError
from ranking.tasks import Task
from service.engine_factory import build_ranker
from tests.live_server import ROOT, live_server
from tests.service.conftest import make_settings
from tests.tiny_checkpoint import make_tiny_checkpoint, make_tokenizer

APPLY = Task(
    "apply",
    "Task: predict whether the candidate will apply to the job offer.",
    "Will the candidate apply?",
    " Yes",
    " No",
)
WORDS = "python java nurse teacher driver berlin paris remote senior junior engineer sales data cloud".split()


def job_corpus(seed: int = 3) -> list[str]:
    """Job-market text: the task's own strings, none of the demo's (so " True" is several tokens)."""
    rng = random.Random(seed)
    lines = [APPLY.instruction, f"{APPLY.question} Answer: Yes", f"{APPLY.question} Answer: No"] * 300
    lines += [f"- applied: {' '.join(rng.choices(WORDS, k=6))}" for _ in range(1500)]
    return lines


def job_card(task: Task = APPLY) -> ModelCard:
    contract = InputContract(
        item="job title | city | skills", action="'applied' or 'skipped'", profile="free text: the job seeker"
    )
    return ModelCard("tiny-job-recommender", (task,), input_contract=contract)


@pytest.fixture(scope="module")
def job_model(tmp_path_factory) -> Path:
    tokenizer = make_tokenizer(vocab_size=400, corpus=job_corpus())
    assert len(tokenizer.encode(" Yes", add_special_tokens=False)) == 1
    assert len(tokenizer.encode(" True", add_special_tokens=False)) > 1  # the demo's `love` label would not fit
    return make_tiny_checkpoint(tmp_path_factory.mktemp("job-model"), seed=3, tokenizer=tokenizer, card=job_card())


def job_request(**extra) -> dict:
    body = {
        "member": {"id": "seeker-1", "profile": "data engineer, 5 years", "history": [
            {"item": "senior data engineer | berlin | python cloud", "action": "applied"}]},
        "candidates": [{"id": f"j{i}", "text": f"{WORDS[i]} engineer | remote | python"} for i in range(4)],
    }  # fmt: skip
    return {**body, **extra}


def test_serve_starts_on_a_custom_task_and_ranks_with_it(job_model: Path, tmp_path: Path) -> None:
    with live_server(job_model, tmp_path / "serve.log") as url:
        (model,) = httpx.get(f"{url}/v1/models", timeout=10).json()["data"]
        assert [t["name"] for t in model["card"]["tasks"]] == ["apply"]
        assert model["card"]["input"]["item"] == "job title | city | skills"
        body = httpx.post(f"{url}/rank", json=job_request(), timeout=30).json()
        assert body["task"] == "apply" and body["model"] == "tiny-job-recommender"
        assert sorted(r["id"] for r in body["ranked"]) == ["j0", "j1", "j2", "j3"]
        wrong = httpx.post(f"{url}/rank", json=job_request(task="like"), timeout=30)
        assert wrong.status_code == 422 and "apply" in wrong.json()["error"]["details"][0]["message"]


@pytest.fixture(scope="module")
def bad_label_model(job_model: Path, tmp_path_factory) -> Path:
    """The job model with a card whose task uses the demo's ' True'/' False' labels (several tokens here)."""
    bad = tmp_path_factory.mktemp("bad-labels")
    for f in job_model.iterdir():
        if f.name != "slmrank.json":
            (bad / f.name).symlink_to(f)
    job_card(Task("hire", "Task: predict a hire.", "Hired?", " True", " False")).save(bad)
    return bad


def test_a_label_that_is_not_one_token_stops_start_up(bad_label_model: Path) -> None:
    with pytest.raises(LabelTokenError) as err:
        build_ranker(make_settings(bad_label_model))
    message = str(err.value)
    assert "'hire'" in message and "' True'" in message and "tokens" in message


def test_slmrank_serve_refuses_it_in_one_line(bad_label_model: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "slmrank", "serve", "--model", str(bad_label_model), "--port", "9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("slmrank serve:")]
    assert "task 'hire'" in line and "label ' True'" in line and "tokens [" in line


def test_slmrank_serve_refuses_an_unsupported_architecture_in_one_line(tmp_path: Path) -> None:
    """A Qwen3-MoE checkpoint on the embedded engine: one line naming it and the supported list, no traceback."""
    from tests.tiny_architectures import tiny_model
    from tests.tiny_checkpoint import TASKS

    model_dir = tmp_path / "moe"
    tiny_model("qwen3_moe").save_pretrained(model_dir)
    make_tokenizer(0).save_pretrained(model_dir)
    ModelCard("tiny-moe", tuple(TASKS.values())).save(model_dir)
    out = subprocess.run(
        [sys.executable, "-m", "slmrank", "serve", "--model", str(model_dir), "--port", "9"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert out.returncode == 2 and "Traceback" not in out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("slmrank serve:")]
    assert "'qwen3_moe'" in line and "supported: llama" in line and "--backend vllm" in line
