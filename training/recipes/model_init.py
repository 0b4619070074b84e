"""Where the pipeline's models start: from scratch, from a local HF checkpoint, or (student) the pruned teacher.

A checkpoint brings its own tokenizer (then no tokenizer is trained); the teacher and the student must share
one vocabulary for KD, and every task's labels must be single tokens of it. Errors say which and why.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from compression.osscar import OsscarConfig
from compression.structured_prune import PruneConfig, prune_model
from ranking.labels import LabelTokenError, LabelTokens, resolve_all
from ranking.tasks import Task
from training.data.example_builder import ExampleBuilder
from training.recipes.pipeline_config import PruneInitConfig


class InitError(ValueError):
    """A model to start from is missing, unloadable, or incompatible with the other model or the tasks."""


def load_init_checkpoint(model_dir: str | Path, role: str) -> tuple[Any, Any]:
    """(model, tokenizer) of a local HF causal-LM checkpoint in float32; never touches a hub."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise InitError(f"--{role}-init {path}: no config.json there; pass a local save_pretrained directory")
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise InitError(f"--{role}-init {path}: not loadable as a causal LM with its tokenizer ({exc})") from None
    if tokenizer.pad_token_id is None:
        # Padding is masked out everywhere; any id works, EOS is the usual choice.
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def check_same_vocabulary(teacher_tokenizer: Any, student_tokenizer: Any) -> None:
    """KD compares next-token distributions, so both models must read and write the same token ids."""
    a, b = teacher_tokenizer.get_vocab(), student_tokenizer.get_vocab()
    if a != b:
        differ = len(set(a.items()) ^ set(b.items()))
        raise InitError(
            f"teacher and student vocabularies differ ({len(a)} vs {len(b)} tokens, {differ} entries differ); "
            "KD needs one tokenizer: start both from checkpoints of the same family or the student by pruning, and "
            "give --student-init from the run's first command on (the run's tokenizer is chosen then)"
        )


def check_labels(tokenizer: Any, tasks: Sequence[Task], vocab_size: int, source: str) -> dict[str, LabelTokens]:
    """Every task's labels as single tokens of this tokenizer, or an InitError naming label and checkpoint."""
    try:
        return resolve_all(tokenizer, tasks, vocab_size)
    except LabelTokenError as exc:
        raise InitError(f"{source}: {exc} (change the labels in dataset.json, e.g. ' Yes'/' No')") from None


def prune_teacher(teacher: Any, examples: ExampleBuilder, config: PruneInitConfig, seed: int) -> tuple[Any, dict]:
    """A copy of the teacher with MLP neurons and attention heads removed by OSSCAR on in-domain prompts."""
    student = copy.deepcopy(teacher)
    prune_config = PruneConfig(
        mlp_sparsity=config.mlp_sparsity,
        head_sparsity=config.head_sparsity,
        method="osscar",
        neuron_multiple=config.neuron_multiple,
        osscar=OsscarConfig(max_swap_rounds=config.max_swap_rounds),
    )
    report = prune_model(student, calibration_sequences(examples, config.num_calibration, seed), prune_config)
    return student, report.to_dict()


def calibration_sequences(examples: ExampleBuilder, num_sequences: int, seed: int) -> list[list[int]]:
    """In-domain calibration: train-period prompts (member prefix + one candidate suffix)."""
    rng = np.random.default_rng([seed, 7919])
    groups = examples.train_groups(rng, num_sequences)
    return [list(g.prefix_ids) + list(g.suffix_ids[int(rng.integers(len(g.suffix_ids)))]) for g in groups]
