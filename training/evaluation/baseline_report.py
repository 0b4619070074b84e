"""Every row of an evaluation table against the strongest non-LLM baseline, with paired bootstrap intervals.

"Strongest" is the baseline with the highest mean-over-tasks per-member AUC (the figure that matters for ranking
one member's candidates); each other row gets Δ% of mean global AUC and of mean per-member AUC against it, each
with a 95% paired interval over members (training/evaluation/bootstrap.py). Baselines marked `past_only` see, like
a model's prompt, nothing from at or after a member's cutoff (rate_baseline.py, bias_as_of_cutoff.py); when the
strongest of them is not the strongest overall, every row is compared with it too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training.evaluation.bootstrap import DeltaInterval, paired_auc_delta, paired_member_auc_delta
from training.evaluation.evaluator import load_task_scores


def strongest_baseline(models: dict[str, Any]) -> str:
    """The baseline row with the highest mean per-member AUC."""
    best = _best_baseline(models, past_only=False)
    if best is None:
        raise ValueError("the table has no baseline row with a per-member AUC")
    return best


def strongest_past_only_baseline(models: dict[str, Any]) -> str | None:
    """The `past_only` baseline row with the highest mean per-member AUC; None if the table has none."""
    return _best_baseline(models, past_only=True)


def _best_baseline(models: dict[str, Any], past_only: bool) -> str | None:
    baselines = {
        n: m
        for n, m in models.items()
        if m.get("kind") == "baseline" and m.get("mean_member_auc") and (m.get("past_only") or not past_only)
    }
    return max(baselines, key=lambda n: baselines[n]["mean_member_auc"]) if baselines else None


def baseline_report(table: dict[str, Any], command: str, num_resamples: int = 1000) -> str:
    """Markdown: per row and task global AUC, per-member AUC, NDCG@10; Δ% vs the strongest baseline with intervals."""
    models = {n: m for n, m in table["models"].items() if "error" not in m}
    tasks = table["tasks"]
    best = strongest_baseline(models)
    best_past_only = strongest_past_only_baseline(models)
    names = [best] if best_past_only in (None, best) else [best, str(best_past_only)]
    references = {name: load_task_scores(models[name]["scores"]) for name in names}
    head = ["model"] + [f"{t} {k}" for t in tasks for k in ("AUC", "member AUC", "NDCG@10")]
    head += ["mean AUC", "mean member AUC"]
    head += [f"Δ% {k} vs {name} [95%]" for name in names for k in ("AUC", "member AUC")]
    lines = [
        f"Period: `{table['split']}` of `{table['data']}`; command: `{command}`",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, m in models.items():
        cells = [name] + [_cell(m["tasks"][t][k]) for t in tasks for k in ("auc", "member_auc", "ndcg@10")]
        cells += [_cell(m["mean_auc"]), _cell(m["mean_member_auc"])]
        for reference_name, reference in references.items():
            if name == reference_name:
                cells += ["reference", "reference"]
                continue
            scores = load_task_scores(m["scores"])
            cells.append(_delta(paired_auc_delta(reference, scores, num_resamples)))
            cells.append(_delta(paired_member_auc_delta(reference, scores, num_resamples)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", _history_lines(table), ""]
    return "\n".join(lines)


def write_baseline_report(table: dict[str, Any], command: str, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline_report(table, command))
    return path


def _history_lines(table: dict[str, Any]) -> str:
    shown = table.get("history_shown", {})
    return "\n".join(
        f"History shown by `{n}`'s prompts: median {h['median_shown']} items (min {h['min_shown']}, max "
        f"{h['max_shown']}) of a median {h['median_available']} available, in a {h['max_prefix_len']}-token prefix, "
        f"over {h['num_members']} members."
        for n, h in shown.items()
    )


def _delta(found: DeltaInterval) -> str:
    return f"{found.delta_pct:+.2f} [{found.low_pct:+.2f}, {found.high_pct:+.2f}]"


def _cell(value: float | None) -> str:
    return "–" if value is None or np.isnan(value) else f"{value:.4f}"
