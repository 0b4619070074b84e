"""The trained tokenizer: HF format round trip, specials, and single-token labels."""

from __future__ import annotations

from pathlib import Path

from transformers import AutoTokenizer

from tests.tiny_checkpoint import TASKS
from training.tokenizer_trainer import BOS, EOS, PAD, ensure_single_token_labels, label_strings


def test_saved_tokenizer_loads_with_specials_and_labels(tokenizer, tmp_path: Path) -> None:
    tokenizer.save_pretrained(str(tmp_path))
    loaded = AutoTokenizer.from_pretrained(str(tmp_path), local_files_only=True)
    assert (loaded.bos_token, loaded.eos_token, loaded.pad_token) == (BOS, EOS, PAD)
    assert len(loaded) <= 400
    for label in label_strings(TASKS.values()):
        assert len(loaded.encode(label, add_special_tokens=False)) == 1
    text = "- rated 4.5: Heat (1995) | Action|Crime|Thriller"
    assert loaded.decode(loaded.encode(text, add_special_tokens=False)) == text


def test_missing_labels_are_added(tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.add_special_tokens([PAD])
    bare = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token=PAD)
    ensure_single_token_labels(bare, TASKS.values())
    assert all(len(bare.encode(s, add_special_tokens=False)) == 1 for s in label_strings(TASKS.values()))


def test_a_label_rates_corpus_holds_every_shown_rate(split) -> None:
    from ranking import prompt_template as tpl
    from training.tokenizer_trainer import corpus

    plain = list(corpus(split))
    rated = list(corpus(split, label_rates=True))
    assert rated[: len(plain)] == plain  # the rate lines only come on top
    extra = "".join(set(rated[len(plain) :]))
    for rate in tpl.shown_rates():
        assert tpl.item_rate_line(rate) in extra and tpl.member_rate_line(rate) in extra
    assert not any(tpl.ITEM_RATE_PREFIX in line for line in plain)
