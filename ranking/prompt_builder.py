"""The one prompt builder that training and serving share: a member prefix and a suffix per candidate.

The prefix (instruction, profile, recent history under a token budget) and each candidate suffix are
tokenized separately and joined as token ids, so the prefix is token-identical for all k candidates and a
prefix cache (radix tree, SGLang, vLLM) can reuse its KV. Training calls the same `build`, so what a model
learns on is, token for token, what it is served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from ranking import prompt_template as tpl
from ranking.member import Candidate, Interaction, Member
from ranking.tasks import Task


class TextEncoder(Protocol):
    """The slice of a Hugging Face tokenizer the builder needs."""

    bos_token_id: int | None

    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


@dataclass(frozen=True)
class PromptConfig:
    """Token budgets of a prompt. Saved in a checkpoint's card so serving uses the budgets the model trained on."""

    max_prefix_len: int = 1024
    max_profile_len: int = 96
    max_item_len: int = 48
    max_candidate_len: int = 64
    add_bos: bool = True
    # Show the member's and each candidate's positive rate for the task (Member/Candidate.label_rates).
    label_rates: bool = False
    # Also the member's rate on items similar to each candidate (Candidate.similar_rates).
    similar_rates: bool = False

    def __post_init__(self) -> None:
        for name in ("max_prefix_len", "max_profile_len", "max_item_len", "max_candidate_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"PromptConfig.{name} must be >= 1")
        if self.max_prefix_len < self.max_profile_len + 64:
            raise ValueError("PromptConfig.max_prefix_len must leave >= 64 tokens beyond the profile budget")
        if self.similar_rates and not self.label_rates:
            raise ValueError(
                "PromptConfig.similar_rates needs label_rates (a candidate falls back to the member's rate)"
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RankPrompt:
    """Token ids for one member and k candidates: the full prompt i is prefix_ids + suffix_ids[i]."""

    prefix_ids: tuple[int, ...]
    suffix_ids: tuple[tuple[int, ...], ...]
    num_history_shown: int

    def full_prompt(self, i: int) -> list[int]:
        return [*self.prefix_ids, *self.suffix_ids[i]]

    @property
    def prompt_tokens(self) -> int:
        """Tokens of all k prompts as an engine without prefix sharing would see them."""
        return sum(len(self.prefix_ids) + len(s) for s in self.suffix_ids)


def ordered_history(history: Sequence[Interaction]) -> list[Interaction]:
    """Oldest first: by timestamp (stable) when every item has one, else in the order given."""
    if history and all(h.timestamp is not None for h in history):
        return sorted(history, key=lambda h: h.timestamp or 0)
    return list(history)


class PromptBuilder:
    """Builds RankPrompts from members and candidates with one tokenizer and one PromptConfig."""

    def __init__(self, tokenizer: TextEncoder, config: PromptConfig | None = None) -> None:
        self.tokenizer = tokenizer
        self.config = config or PromptConfig()
        self._fixed: dict[str, list[int]] = {}

    def build(self, member: Member, candidates: Sequence[Candidate | str], task: Task) -> RankPrompt:
        """The member prefix once and one suffix per candidate, as token ids."""
        prefix_ids, num_shown = self.member_prefix(member, task)
        suffixes = tuple(
            tuple(self.candidate_suffix(c if isinstance(c, Candidate) else Candidate(c, c), task)) for c in candidates
        )
        return RankPrompt(tuple(prefix_ids), suffixes, num_shown)

    def member_prefix(self, member: Member, task: Task) -> tuple[list[int], int]:
        """Instruction, profile and the most recent history lines that fit the budget; (ids, lines shown)."""
        cfg = self.config
        head = [self.tokenizer.bos_token_id] if cfg.add_bos and self.tokenizer.bos_token_id is not None else []
        head += self._encode_fixed(tpl.instruction_line(task.instruction))
        head += self._encode(tpl.profile_line(member.profile))[: cfg.max_profile_len]
        if cfg.label_rates:
            head += self._encode_fixed(tpl.member_rate_line(task_rate(member.label_rates, task, "member")))
        head += self._encode_fixed(tpl.HISTORY_HEADER)
        lines = [self._history_line(h) for h in ordered_history(member.history)]
        budget = cfg.max_prefix_len - len(head)
        kept: list[list[int]] = []
        # Walk back from the newest and stop at the first line that does not fit, so what is shown is always
        # one contiguous, most recent window: deterministic, and the member's latest taste is never dropped.
        for line in reversed(lines):
            if len(line) > budget:
                break
            kept.append(line)
            budget -= len(line)
        if not kept:
            empty = self._encode_fixed(tpl.EMPTY_HISTORY)
            return head + (empty if len(empty) <= budget else []), 0
        body = [tok for line in reversed(kept) for tok in line]
        return head + body, len(kept)

    def candidate_suffix(self, candidate: Candidate, task: Task) -> list[int]:
        """`Candidate: <text>` under its budget, its rates if the model shows them, then the question."""
        ids = self._encode(tpl.candidate_line(candidate.text))[: self.config.max_candidate_len]
        if self.config.label_rates:
            rate = task_rate(candidate.label_rates, task, f"candidate {candidate.id}")
            ids += self._encode_fixed(tpl.item_rate_line(rate))
        if self.config.similar_rates:
            rate = task_rate(candidate.similar_rates, task, f"candidate {candidate.id}", "similar_rates")
            ids += self._encode_fixed(tpl.similar_rate_line(rate))
        return ids + self._encode_fixed(tpl.question_line(task.question))

    def _history_line(self, interaction: Interaction) -> list[int]:
        ids = self._encode(tpl.history_line(interaction.action, interaction.item))
        return ids[: self.config.max_item_len] + self._encode_fixed("\n")

    def _encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def _encode_fixed(self, text: str) -> list[int]:
        """Text from a small fixed set (instructions, questions, the 21 shown rates), tokenized once."""
        if text not in self._fixed:
            self._fixed[text] = self._encode(text)
        return self._fixed[text]


def task_rate(rates: Mapping[str, float] | None, task: Task, whose: str, kind: str = "label_rates") -> float:
    """The `kind` rate for `task`; ValueError names whose rate is missing (the service checks this before
    scoring)."""
    if rates is None or task.name not in rates:
        raise ValueError(f"this model shows {kind}: the {whose} needs {kind}[{task.name!r}]")
    return rates[task.name]
