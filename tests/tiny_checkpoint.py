"""Build a tiny random Qwen3 checkpoint and BPE tokenizer on the fly, for tests (no hub, a few seconds)."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

from ranking.card import ModelCard
from training.data.movielens_profile import MOVIELENS_INPUT
from training.data.movielens_tasks import movielens_tasks

# The demo's tasks: the tiny checkpoints' cards declare them, so tests can compare against the shipped model.
TASKS = movielens_tasks()

WORDS = (
    "heat toy story matrix alien jaws titanic fargo casino brazil memento up "
    "cars rocky speed action crime thriller comedy drama romance horror animation adventure "
    "children fantasy sci-fi member profile liked disliked rated loved watched recent activity "
    "oldest first candidate movie task predict whether will like love the it "
    "stars or more answer question unknown none "
).split()


def _corpus(seed: int, num_lines: int = 3000) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for task in TASKS.values():
        lines += [task.instruction, task.question] * 50
        lines += [f"{task.question} Answer:{task.positive_label}", f"Answer:{task.negative_label}"] * 200
    for _ in range(num_lines):
        words = rng.choices(WORDS, k=rng.randint(3, 12))
        lines.append(
            f"- {rng.choice(['liked', 'rated 4.5', 'disliked'])}: {' '.join(words)} ({rng.randint(1950, 2018)})"
        )
    return lines


def make_tokenizer(seed: int = 0, vocab_size: int = 512, corpus: list[str] | None = None) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on `corpus` (default: the demo's, whose label strings are single tokens)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<|bos|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus if corpus is not None else _corpus(seed), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|bos|>", eos_token="<|endoftext|>", pad_token="<|pad|>"
    )


def make_tiny_checkpoint(
    out_dir: Path,
    seed: int = 0,
    num_layers: int = 2,
    hidden: int = 64,
    tokenizer: PreTrainedTokenizerFast | None = None,
    card: ModelCard | None = None,
) -> Path:
    """Save a random Qwen3ForCausalLM (GQA, explicit head_dim) + tokenizer + card to `out_dir`.

    Without `tokenizer` and `card`: the demo's tokenizer and tasks (like/love), so tests compare with models/default.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = tokenizer or make_tokenizer(seed)
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=num_layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=hidden // 4,
        max_position_embeddings=4096,
        initializer_range=0.2,  # large init: logits far from flat, so score differences are visible
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    card = card or ModelCard("tiny-random-qwen3", tuple(TASKS.values()), input_contract=MOVIELENS_INPUT)
    card.save(out_dir)
    return out_dir
