"""Train the project's byte-level BPE tokenizer on a dataset's rendered corpus, saved in Hugging Face format."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ranking import prompt_template as tpl
from ranking.member import Member
from ranking.tasks import Task
from training.data.split import ChronologicalSplit

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
# Times each label line appears in the corpus: enough for BPE to merge " Yes", " True", ... into single tokens.
LABEL_REPEATS = 2000


@dataclass(frozen=True)
class TokenizerConfig:
    """Vocabulary size of the trained tokenizer (specials and label tokens included)."""

    vocab_size: int = 4096
    min_frequency: int = 2


def corpus(split: ChronologicalSplit, label_rates: bool = False, similar_rates: bool = False) -> Iterator[str]:
    """Everything a prompt can contain: item texts, train-period history lines and profiles, task text.

    With `label_rates`, every rate line, often enough that each shown rate (` 70%`) becomes one token: a small
    model compares one token per rate far sooner than two digits and a sign (measured on the demo).
    """
    data = split.data
    for item in data.items.values():
        yield tpl.candidate_line(item.text)
    for periods in split.members.values():
        yield "\n".join(tpl.history_line(e.action, data.items[e.item_id].text) for e in periods.train)
        # The profile as known at the end of the train period (val and test stay unseen).
        profile = data.profile_at(periods.member_id, periods.events[periods.val_start - 1].timestamp)
        if profile is not None:
            yield tpl.profile_line(Member("m", profile).profile)
    for task in data.spec.tasks:
        for label in task.labels:
            # Profile-less on purpose: this exact text is what the shipped tokenizer was trained on.
            head = tpl.instruction_line(task.instruction) + tpl.HISTORY_HEADER.lstrip("\n") + tpl.EMPTY_HISTORY
            text = head + tpl.question_line(task.question).lstrip("\n") + label + "\n"
            yield from (text for _ in range(LABEL_REPEATS))
    if label_rates:
        lines = [
            tpl.member_rate_line(r) + tpl.item_rate_line(r) + (tpl.similar_rate_line(r) if similar_rates else "")
            for r in tpl.shown_rates()
        ]
        yield from (line for _ in range(LABEL_REPEATS // 4) for line in lines)


def train_tokenizer(
    split: ChronologicalSplit,
    config: TokenizerConfig,
    out_dir: str | Path,
    label_rates: bool = False,
    similar_rates: bool = False,
):
    """Train, check the label tokens are single tokens, save_pretrained to out_dir; returns the HF tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=config.vocab_size,
        min_frequency=config.min_frequency,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus(split, label_rates, similar_rates), trainer=trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    ensure_single_token_labels(hf, split.data.spec.tasks)
    hf.save_pretrained(str(out_dir))
    return hf


def label_strings(tasks: Iterable[Task]) -> list[str]:
    """Every task's label strings, leading space included."""
    return [s for t in tasks for s in t.labels]


def ensure_single_token_labels(tokenizer, tasks: Iterable[Task]) -> None:
    """Add any label the BPE did not merge into one token as an added token; then assert all are single."""
    labels = label_strings(tasks)
    missing = [s for s in labels if len(tokenizer.encode(s, add_special_tokens=False)) != 1]
    if missing:
        from tokenizers import AddedToken

        tokenizer.add_tokens([AddedToken(s, normalized=False, single_word=False) for s in missing])
    for s in labels:
        ids = tokenizer.encode(s, add_special_tokens=False)
        if len(ids) != 1:
            raise ValueError(f"label {s!r} encodes to {len(ids)} tokens {ids}; it must be one")
