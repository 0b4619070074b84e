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


def question_line(question: str) -> str:
    return f"\n{question}{ANSWER_CUE}"


def prefix_text(instruction: str, profile: str | dict[str, Any] | None, history: Sequence[tuple[str, str]]) -> str:
    """The whole member prefix as text, history as (action, item) oldest first, without token budgets."""
    body = "".join(history_line(action, item) + "\n" for action, item in history) or EMPTY_HISTORY
    return instruction_line(instruction) + profile_line(profile) + HISTORY_HEADER + body


def suffix_text(candidate_text: str, question: str) -> str:
    """The candidate and the question, as text; the label token comes right after `Answer:`."""
    return candidate_line(candidate_text) + question_line(question)
