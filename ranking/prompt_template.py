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
MEMBER_RATE_PREFIX = "\nMember's positive rate: "
ITEM_RATE_PREFIX = "\nPositive rate among members: "
SIMILAR_RATE_PREFIX = "\nRate on similar items: "
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


def member_rate_line(rate: float) -> str:
    """The member's own past positive rate for the task, after the profile."""
    return MEMBER_RATE_PREFIX + rate_text(rate)


def item_rate_line(rate: float) -> str:
    """The candidate's positive rate among other members for the task, after the candidate line."""
    return ITEM_RATE_PREFIX + rate_text(rate)


def similar_rate_line(rate: float) -> str:
    """The member's own positive rate on items like the candidate, after the candidate's rate."""
    return SIMILAR_RATE_PREFIX + rate_text(rate)


def question_line(question: str) -> str:
    return f"\n{question}{ANSWER_CUE}"


def prefix_text(
    instruction: str,
    profile: str | dict[str, Any] | None,
    history: Sequence[tuple[str, str]],
    member_rate: float | None = None,
) -> str:
    """The whole member prefix as text, history as (action, item) oldest first, without token budgets.

    `member_rate` only for models that show label rates (PromptConfig.label_rates).
    """
    body = "".join(history_line(action, item) + "\n" for action, item in history) or EMPTY_HISTORY
    rate = member_rate_line(member_rate) if member_rate is not None else ""
    return instruction_line(instruction) + profile_line(profile) + rate + HISTORY_HEADER + body


def suffix_text(
    candidate_text: str, question: str, item_rate: float | None = None, similar_rate: float | None = None
) -> str:
    """The candidate (with its rates, for models that show them) and the question; the label comes next."""
    rate = item_rate_line(item_rate) if item_rate is not None else ""
    rate += similar_rate_line(similar_rate) if similar_rate is not None else ""
    return candidate_line(candidate_text) + rate + question_line(question)
