"""Admission limits beyond the schema: sizes, counts, uniqueness and task names, all from Settings."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ranking.prompt_template import render_profile
from service.errors import RequestRejectedError
from service.schemas import ErrorDetail, RankRequest
from service.settings import Settings

# Whitespace as both Python (str.isspace) and JSON Schema's ECMA-262 regexes count it: text made only of these is
# blank. The OpenAPI schema states the same rule as `pattern`, so schema-valid text is never refused as blank.
_BLANK = "\\t\\n\\v\\f\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
NOT_BLANK_PATTERN = f"[^{_BLANK}]"
_NOT_BLANK = re.compile(NOT_BLANK_PATTERN)


def check_rank_request(
    req: RankRequest,
    settings: Settings,
    tasks: Iterable[str],
    default_task: str,
    label_rates: bool = False,
    similar_rates: bool = False,
) -> None:
    """Raise RequestRejectedError (422) naming every broken field and its limit.

    `label_rates`: the model's card shows rates, so the member and every candidate need one for the task;
    `similar_rates`: every candidate also needs its similar-items rate for the task.
    """
    problems = _candidate_problems(req, settings) + _member_problems(req, settings)
    task = req.task if req.task is not None else default_task  # "" names no task: refused, not defaulted
    known = list(tasks)
    if task not in known:
        problems.append(ErrorDetail(field="task", message=f"unknown task; known tasks: {', '.join(known)}"))
    else:
        problems += _rate_problems(req, task, label_rates, similar_rates)
    if problems:
        raise RequestRejectedError(422, "invalid_request", "request exceeds a limit or is inconsistent", problems)


def _too_long(field: str, value: str, limit: int) -> list[ErrorDetail]:
    if len(value) > limit:
        return [ErrorDetail(field=field, message=f"longer than {limit} characters", limit=limit)]
    if not _NOT_BLANK.search(value):
        return [ErrorDetail(field=field, message="must not be blank")]
    return []


def _candidate_problems(req: RankRequest, settings: Settings) -> list[ErrorDetail]:
    k = len(req.candidates)
    if k == 0:
        return [ErrorDetail(field="candidates", message="at least one candidate is required", limit=1)]
    if k > settings.max_candidates:
        limit = settings.max_candidates
        return [ErrorDetail(field="candidates", message=f"{k} candidates; at most {limit}", limit=limit)]
    problems: list[ErrorDetail] = []
    seen: dict[str, int] = {}
    for i, cand in enumerate(req.candidates):
        problems += _too_long(f"candidates[{i}].id", cand.id, settings.max_id_chars)
        problems += _too_long(f"candidates[{i}].text", cand.text, settings.max_candidate_chars)
        if cand.id in seen:
            problems.append(
                ErrorDetail(field=f"candidates[{i}].id", message=f"duplicate of candidates[{seen[cand.id]}].id")
            )
        seen.setdefault(cand.id, i)
    return problems


def _member_problems(req: RankRequest, settings: Settings) -> list[ErrorDetail]:
    member = req.member
    problems = _too_long("member.id", member.id, settings.max_id_chars)
    profile = member.profile
    # A text profile counts as sent (as the schema's maxLength does); fields count as rendered.
    shown = profile if isinstance(profile, str) else render_profile(profile) if profile is not None else ""
    if len(shown) > settings.max_profile_chars:
        limit = settings.max_profile_chars
        problems.append(ErrorDetail(field="member.profile", message=f"longer than {limit} characters", limit=limit))
    if len(member.history) > settings.max_history_items:
        limit = settings.max_history_items
        msg = f"{len(member.history)} items; at most {limit}"
        problems.append(ErrorDetail(field="member.history", message=msg, limit=limit))
        return problems
    for i, item in enumerate(member.history):
        problems += _too_long(f"member.history[{i}].item", item.item, settings.max_item_chars)
        problems += _too_long(f"member.history[{i}].action", item.action, settings.max_item_chars)
    return problems


def _rate_problems(req: RankRequest, task: str, label_rates: bool, similar_rates: bool) -> list[ErrorDetail]:
    """Each missing rate for the task that the model's card shows, named: `label_rates` of the member and the
    candidates, `similar_rates` of the candidates."""
    owners: list[tuple[str, str, dict[str, float] | None]] = []
    if label_rates:
        owners.append(("member", "label_rates", req.member.label_rates))
        owners += [(f"candidates[{i}]", "label_rates", c.label_rates) for i, c in enumerate(req.candidates)]
    if similar_rates:
        owners += [(f"candidates[{i}]", "similar_rates", c.similar_rates) for i, c in enumerate(req.candidates)]
    return [
        ErrorDetail(
            field=f"{where}.{kind}.{task}",
            message=f"this model's card has prompt.{kind}: a rate in [0, 1] for task {task!r} is required",
        )
        for where, kind, rates in owners
        if rates is None or task not in rates
    ]
