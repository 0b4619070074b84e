"""ModelRunner against the transformers forward: full-vocab log-probs, chunked prefixes, packed items."""

from __future__ import annotations

import random

import pytest
import torch

from ranking.engine.model_runner import ForwardItem, ModelRunner, UnsupportedModelError
from tests.ranking.engine.conftest import TOLERANCE, random_ids
from tests.reference.engine_plain_scorer import plain_label_logprobs, plain_logits


@pytest.fixture(scope="module", params=["sdpa", "sdpa_cascade"])
def runner(tiny_loaded, request) -> ModelRunner:
    return ModelRunner(tiny_loaded, request.param)


def test_full_vocab_logprobs_match_transformers(tiny_loaded, runner, rng: random.Random) -> None:
    vocab = tiny_loaded.vocab_size
    prefix = random_ids(rng, vocab, 37)
    suffixes = [random_ids(rng, vocab, n) for n in (4, 1, 9)]
    all_ids = list(range(vocab))
    out = runner.forward([ForwardItem([], prefix, suffixes, all_ids)])[0]
    expected = plain_label_logprobs(tiny_loaded.model, prefix, suffixes, all_ids)
    torch.testing.assert_close(out.label_logprobs, expected, atol=TOLERANCE["float32"], rtol=0)


def test_prefix_kv_matches_a_one_shot_pass(tiny_loaded, runner, rng: random.Random) -> None:
    """Prefix computed in three chunks (each after the cached ones) gives the scores of one pass."""
    vocab = tiny_loaded.vocab_size
    prefix = random_ids(rng, vocab, 50)
    suffixes = [random_ids(rng, vocab, n) for n in (3, 6)]
    labels = [5, 7, 11]
    first = runner.forward([ForwardItem([], prefix[:20])])[0]
    second = runner.forward([ForwardItem([first.prefix_kv], prefix[20:41])])[0]
    assert first.label_logprobs is None and len(first.prefix_kv) == 20
    last = runner.forward([ForwardItem([first.prefix_kv, second.prefix_kv], prefix[41:], suffixes, labels)])[0]
    expected = plain_label_logprobs(tiny_loaded.model, prefix, suffixes, labels)
    torch.testing.assert_close(last.label_logprobs, expected, atol=TOLERANCE["float32"], rtol=0)


def test_packed_items_equal_separate_passes(tiny_loaded, runner, rng: random.Random) -> None:
    vocab = tiny_loaded.vocab_size
    items = [ForwardItem([], random_ids(rng, vocab, n), [random_ids(rng, vocab, 4)] * 2, [3, 4]) for n in (10, 25, 3)]
    packed = runner.forward(items)
    for item, out in zip(items, packed, strict=True):
        alone = runner.forward([item])[0]
        torch.testing.assert_close(out.label_logprobs, alone.label_logprobs, atol=TOLERANCE["float32"], rtol=0)
        torch.testing.assert_close(out.prefix_kv.kv, alone.prefix_kv.kv, atol=TOLERANCE["float32"], rtol=0)


def test_hidden_state_logits_of_a_single_prompt(tiny_loaded, runner, rng: random.Random) -> None:
    """A suffix of one token reads the logits at the last prompt position: same as model(ids).logits[-1]."""
    vocab = tiny_loaded.vocab_size
    ids = random_ids(rng, vocab, 12)
    out = runner.forward([ForwardItem([], ids[:-1], [ids[-1:]], list(range(vocab)))])[0]
    expected = torch.log_softmax(plain_logits(tiny_loaded.model, ids)[-1], dim=-1)
    torch.testing.assert_close(out.label_logprobs[0], expected, atol=TOLERANCE["float32"], rtol=0)


def test_unsupported_architecture_is_refused(tiny_loaded) -> None:
    class Config:
        model_type = "gpt2"

    class Model:
        config = Config()

    fake = type(tiny_loaded)(Model(), None, "x", 10, tiny_loaded.device, tiny_loaded.dtype)
    with pytest.raises(UnsupportedModelError):
        ModelRunner(fake)


def test_bf16_label_log_odds_keep_float32_resolution(tiny_model_dir) -> None:
    """bf16 rounds logits to steps of ~0.03-0.06; the label logits are recomputed in float32, so a candidate's
    label log-odds (what the score is made of) equal the float32 product of its bf16 hidden state and head."""
    from ranking.model_loader import load_checkpoint

    runner = ModelRunner(load_checkpoint(tiny_model_dir, device="cpu", dtype="bfloat16"), "sdpa")
    torch.manual_seed(0)
    hidden = (torch.randn(64, runner.lm_head.weight.shape[1]) * 3).to(torch.bfloat16)
    labels = [5, 9]
    exact = hidden.float() @ runner.lm_head.weight[labels].float().T  # [64, 2]
    got = runner._label_logprobs(hidden, labels, False)
    rounded = torch.log_softmax(runner.lm_head(hidden).float(), dim=-1)[:, labels]
    exact_odds, got_odds = exact[:, 0] - exact[:, 1], got[:, 0] - got[:, 1]
    torch.testing.assert_close(got_odds, exact_odds, atol=1e-5, rtol=0)
    assert (rounded[:, 0] - rounded[:, 1] - exact_odds).abs().max() > 1e-3  # what the plain bf16 head loses
    assert got.shape == (64, 2) and bool((got <= 0).all())


def test_label_normalised_log_probs_keep_the_log_odds_and_never_run_the_full_head(tiny_loaded, monkeypatch) -> None:
    runner = ModelRunner(tiny_loaded, "sdpa")
    torch.manual_seed(1)
    hidden = torch.randn(7, runner.lm_head.weight.shape[1]) * 3
    labels = [5, 9, 11]
    full = runner._label_logprobs(hidden, labels, False)
    calls: list[int] = []
    monkeypatch.setattr(runner.lm_head, "forward", lambda x: calls.append(1) or torch.zeros(()))
    over_labels = runner._label_logprobs(hidden, labels, True)
    assert not calls  # two (here three) rows of the head, not the vocabulary
    torch.testing.assert_close(over_labels - over_labels[:, :1], full - full[:, :1], atol=1e-5, rtol=0)
    torch.testing.assert_close(over_labels.exp().sum(-1), torch.ones(7), atol=1e-6, rtol=0)
    assert bool((full.exp().sum(-1) < 0.5).all())  # over the vocabulary the labels hold little mass
