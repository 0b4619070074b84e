"""The fixed text that frames every prompt: written once, used by the prompt builder and the load tester.

A member prefix is `instruction`, the profile line, the history header and one line per past interaction; a
candidate suffix is the candidate line and the task's question. The label token is predicted right after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

PROFILE_PREFIX = "Member profile: "
HISTORY_HEADER = "\nRecent activity, oldest first:\n"
EMPTY_HISTORY = "(none)\n"
CANDIDATE_PREFIX = "Candidate: "
ANSWER_CUE = " Answer:"
UNKNOWN_PROFILE = "unknown"
# Label rates go last, right before the answer cue: a small model reads a token 3-5 positions back long before it
# learns to find one hundreds of tokens away (measured on the demo: placed after the profile, 500 steps left the
# label loss at the prior).
RATES_PREFIX = " Positive rates: member "
RATES_ITEM = ", item "
# Rates are shown in steps of this many percent: a handful of tokens a small model learns to compare (BinLLM's
# finding: collaborative signal reaches an LLM best as short discrete text).
RATE_STEP_PERCENT = 5


def render_profile(profile: str | dict[str, Any] | None) -> str:
    """Free text as is; fields as `key: value` in the order given (lists joined by commas)."""
    if profile is None:
        return UNKNOWN_PROFILE
    if isinstance(profile, str):
        return profile.strip() or UNKNOWN_PROFILE
    parts = []
    for key, value in profile.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
        parts.append(f"{key}: {shown}")
    return "; ".join(parts) or UNKNOWN_PROFILE


def instruction_line(instruction: str) -> str:
    return instruction + "\n"


def profile_line(profile: str | dict[str, Any] | None) -> str:
    return PROFILE_PREFIX + render_profile(profile)


def history_line(action: str, item: str) -> str:
    """One past interaction, without its newline (the builder cuts the line to a token budget first)."""
    return f"- {action.strip()}: {item.strip()}"


def candidate_line(text: str) -> str:
    return CANDIDATE_PREFIX + text.strip()


def rate_text(rate: float) -> str:
    """A rate in [0, 1] as whole percent in RATE_STEP_PERCENT steps: 0.723 -> `70%`."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a label rate must lie in [0, 1], got {rate!r}")
    step = RATE_STEP_PERCENT
    return f"{round(rate * 100 / step) * step}%"


def shown_rates() -> list[float]:
    """One rate per value `rate_text` can show: 0%, 5%, ..., 100%."""
    step = RATE_STEP_PERCENT
    return [p / 100 for p in range(0, 101, step)]


def rates_text(member_rate: float, item_rate: float) -> str:
    """` Positive rates: member 35%, item 70%`: the member's own past positive rate for the task and the
    candidate's among members, shown between the question and the answer cue."""
    return RATES_PREFIX + rate_text(member_rate) + RATES_ITEM + rate_text(item_rate)


def question_line(question: str, rates: tuple[float, float] | None = None) -> str:
    shown = rates_text(*rates) if rates is not None else ""
    return f"\n{question}{shown}{ANSWER_CUE}"


def prefix_text(instruction: str, profile: str | dict[str, Any] | None, history: Sequence[tuple[str, str]]) -> str:
    """The whole member prefix as text, history as (action, item) oldest first, without token budgets."""
    body = "".join(history_line(action, item) + "\n" for action, item in history) or EMPTY_HISTORY
    return instruction_line(instruction) + profile_line(profile) + HISTORY_HEADER + body


def suffix_text(candidate_text: str, question: str, rates: tuple[float, float] | None = None) -> str:
    """The candidate and the question, then the label token; `rates` (member, item) only for models that show
    label rates (PromptConfig.label_rates)."""
    return candidate_line(candidate_text) + question_line(question, rates)
