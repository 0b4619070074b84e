"""Packed prefix-sharing forward passes against plain one-prompt-at-a-time scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ranking.labels import resolve_all
from ranking.prompt_builder import PromptConfig
from tests.tiny_checkpoint import TASKS
from training.data.example_builder import ExampleBuilder
from training.model_factory import ModelConfig, build_model
from training.packed_batch import IGNORE, block_mask, pack_groups
from training.packed_forward import label_log_odds, packed_hidden, rows_logits, sequence_positions

CONFIG = PromptConfig(max_prefix_len=128, max_profile_len=48, max_item_len=32, max_candidate_len=40)
TOL = 1e-4  # float32


@pytest.fixture(scope="module")
def setup(split, tokenizer):
    torch.set_num_threads(1)
    examples = ExampleBuilder(split, tokenizer, CONFIG, ["like", "love"], group_size=3)
    model = build_model(
        ModelConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            intermediate_size=64,
        ),
        tokenizer,
        seed=0,
    ).eval()
    labels = resolve_all(tokenizer, TASKS.values(), len(tokenizer))
    groups = examples.train_groups(np.random.default_rng(3), 4)
    return model, labels, groups, tokenizer.pad_token_id


def test_packed_label_scores_equal_plain_prompts(setup) -> None:
    model, labels, groups, pad = setup
    batch = pack_groups(groups, labels, pad)
    with torch.no_grad():
        got = label_log_odds(rows_logits(model, packed_hidden(model, batch), batch.label_index), batch)
        want = []
        for g in groups:
            lab = labels[g.task]
            for suffix in g.suffix_ids:
                lp = model(input_ids=torch.tensor([[*g.prefix_ids, *suffix]])).logits[0, -1].log_softmax(-1)
                want.append(float(lp[lab.positive_id] - lp[lab.negative_id]))
    assert got.tolist() == pytest.approx(want, abs=TOL)


def test_packed_prefix_positions_equal_plain_prefix(setup) -> None:
    model, labels, groups, pad = setup
    batch = pack_groups(groups[:1], labels, pad)
    prefix = list(groups[0].prefix_ids)
    with torch.no_grad():
        packed = rows_logits(model, packed_hidden(model, batch), torch.arange(len(prefix)))
        plain = model(input_ids=torch.tensor([prefix])).logits[0]
    assert torch.allclose(packed, plain, atol=TOL)


def test_next_ids_and_labels(setup) -> None:
    _, labels, groups, pad = setup
    batch = pack_groups(groups[:1], labels, pad)
    g = groups[0]
    row = batch.input_ids[0].tolist()
    nxt = batch.next_ids[0].tolist()
    p = len(g.prefix_ids)
    assert row[:p] == list(g.prefix_ids)
    assert nxt[: p - 1] == list(g.prefix_ids[1:]) and nxt[p - 1] == g.suffix_ids[0][0]
    ends = batch.label_index.tolist()
    want = [labels[g.task].positive_id if y else labels[g.task].negative_id for y in g.labels]
    assert [nxt[e] for e in ends] == want == batch.label_target.tolist()


def test_block_mask_semantics() -> None:
    seg = torch.tensor([[0, 0, 1, 1, 2, -1]])
    m = block_mask(seg)[0, 0]
    assert m[3].tolist() == [True, True, True, True, False, False]  # suffix 1 sees prefix and itself
    assert m[4].tolist() == [True, True, False, False, True, False]  # suffix 2 never sees suffix 1
    assert m[1].tolist() == [True, True, False, False, False, False]
    assert m[5].tolist() == [False, False, False, False, False, True]  # padding: itself only


def test_sequence_positions_skip_padding(setup) -> None:
    _, labels, groups, pad = setup
    batch = pack_groups(groups, labels, pad)
    picks = sequence_positions(batch, 10, torch.Generator().manual_seed(0))
    assert (batch.next_ids.flatten()[picks] != IGNORE).all()
    assert picks.numel() == 10 * len(groups)
    everything = sequence_positions(batch, 0, None)
    assert everything.numel() == int((batch.next_ids != IGNORE).sum())
