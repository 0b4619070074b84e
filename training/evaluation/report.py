"""The evaluation report: per task AUC and Δ% vs the teacher, mean member AUC, NDCG@10, log loss, ECE; goals
judged with paired bootstrap intervals; Markdown, JSON and PNG. Smoke-sized runs are labelled plumbing checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from training.checkpoint_writer import write_json
from training.data.movielens_converter import LICENCE
from training.evaluation.bootstrap import DeltaInterval, auc_interval, paired_auc_delta, paired_member_auc_delta
from training.evaluation.evaluator import load_task_scores

# The MovieLens demo's data note (the compression report is MovieLens-only); other datasets bring their own.
LICENCE_NOTE = f"Data: {LICENCE}"
PLUMBING = (
    "**Plumbing check**: smoke-sized models and data; the numbers show the pipeline runs end to end and "
    "say nothing about model quality. No goal is judged."
)


def delta_percent(value: float, reference: float) -> float:
    """Relative AUC change in percent, as the paper reports it."""
    return 100.0 * (value - reference) / reference


def _mean(metrics: dict[str, dict[str, Any]], key: str) -> float | None:
    values = [m[key] for m in metrics.values() if m.get(key) is not None]
    return float(np.mean(values)) if values else None


def report_rows(summary: dict[str, Any], reference: str = "teacher") -> list[dict[str, Any]]:
    """One row per model that finished: per-task AUC and Δ% vs the reference, means of the other metrics."""
    models = {n: m for n, m in summary["models"].items() if "error" not in m}
    ref = models.get(reference)
    rows = []
    for name, m in models.items():
        tasks = m["tasks"]
        row: dict[str, Any] = {"model": name, "kind": m["kind"], "num_parameters": m.get("num_parameters")}
        row["mean_auc"] = m["mean_auc"]
        row["mean_auc_interval"] = _interval(m)
        row["delta_mean_pct"] = delta_percent(m["mean_auc"], ref["mean_auc"]) if ref else None
        for key in ("member_auc", "ndcg@10", "log_loss", "ece"):
            row[f"mean_{key}"] = _mean(tasks, key)
        for task, metrics in tasks.items():
            row[f"{task}_auc"] = metrics["auc"]
            row[f"{task}_delta_pct"] = delta_percent(metrics["auc"], ref["tasks"][task]["auc"]) if ref else None
        rows.append(row)
    return rows


def _interval(result: dict[str, Any]) -> list[float] | None:
    """95% member-bootstrap interval of the mean AUC, from the saved scores when there are any."""
    path = result.get("scores")
    return list(auc_interval(load_task_scores(path))) if path and Path(path).exists() else None


def interval(summary: dict[str, Any], reference: str, candidate: str, per_member: bool = False) -> DeltaInterval | None:
    """Paired bootstrap interval of Δ% mean (global, or with `per_member` per-member) AUC of candidate vs
    reference, from their saved scores."""
    models = summary["models"]
    paths = [models.get(n, {}).get("scores") for n in (reference, candidate)]
    if not all(p and Path(p).exists() for p in paths):
        return None
    delta = paired_member_auc_delta if per_member else paired_auc_delta
    return delta(load_task_scores(paths[0]), load_task_scores(paths[1]))


def verdict(found: DeltaInterval | None, threshold: float) -> str:
    """`yes` when the whole interval is above the threshold, `no` when below, else `not resolved`."""
    if found is None:
        return "not run"
    text = f"Δ {found.delta_pct:+.2f}% [{found.low_pct:+.2f}, {found.high_pct:+.2f}]"
    if found.low_pct > threshold:
        return f"yes ({text})"
    if found.high_pct < threshold:
        return f"no ({text})"
    return f"not resolved: the interval contains {threshold:+.1f}% ({text})"


def goals(summary: dict[str, Any]) -> dict[str, str]:
    """The pipeline's three targets, each judged by a paired 95% bootstrap interval over members."""
    if summary.get("is_plumbing_check"):
        return {"goals": "not judged (plumbing check)"}
    models = summary["models"]
    baselines = [n for n, m in models.items() if m.get("kind") == "baseline" and m.get("mean_auc") is not None]
    best = max(baselines, key=lambda n: models[n]["mean_auc"]) if baselines else None
    members = [n for n in baselines if models[n].get("mean_member_auc") is not None]
    best_member = max(members, key=lambda n: models[n]["mean_member_auc"]) if members else None
    member_found = interval(summary, best_member, "teacher", per_member=True) if best_member else None
    return {
        f"teacher > best non-LLM baseline ({best})": verdict(interval(summary, best, "teacher") if best else None, 0),
        f"teacher > best non-LLM baseline per member ({best_member})": verdict(member_found, 0),
        "KD student within -0.2% of the teacher": verdict(interval(summary, "teacher", "student-kd"), -0.2),
        "KD student > SFT student": verdict(interval(summary, "student-sft", "student-kd"), 0.0),
    }


def _cell(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def markdown(summary: dict[str, Any], timings: dict[str, float], tasks: list[str], note: str | None = None) -> str:
    """The Markdown table, the goals and the stage wall times."""
    head = ["model", "params"] + [f"{t} AUC (Δ%)" for t in tasks]
    head += ["mean AUC [95% interval]", "Δ mean vs teacher", "member AUC", "NDCG@10", "log loss", "ECE"]
    lines = [f"# Training report: `{summary['config']}` on `{summary.get('dataset', '?')}`", ""]
    if summary.get("is_plumbing_check"):
        lines += [PLUMBING, ""]
    lines += [
        f"Metric: {summary['metric']}; Δ = relative change vs the teacher in percent; member AUC, NDCG@10, "
        "log loss and ECE are means over tasks (log loss and ECE only where scores are probabilities).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in report_rows(summary):
        cells = [r["model"], f"{r['num_parameters'] / 1e6:.2f}M" if r["num_parameters"] else "–"]
        cells += [f"{_cell(r[f'{t}_auc'], '.4f')} ({_cell(r[f'{t}_delta_pct'], '+.2f')}%)" for t in tasks]
        ci = r["mean_auc_interval"]
        shown = f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
        cells += [_cell(r["mean_auc"], ".4f") + shown, f"{_cell(r['delta_mean_pct'], '+.2f')}%"]
        cells += [_cell(r[f"mean_{k}"], ".4f") for k in ("member_auc", "ndcg@10", "log_loss", "ece")]
        lines.append("| " + " | ".join(cells) + " |")
    failed = {n: m["error"] for n, m in summary["models"].items() if "error" in m}
    lines += [f"- {n}: **failed**: {e}" for n, e in failed.items()]
    lines += ["", "Goals (paired 95% bootstrap intervals over members):", ""]
    lines += [f"- {name}: {status}" for name, status in goals(summary).items()]
    lines += _teacher_signal(summary)
    lines += ["", "Stage wall times (s):", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    if note:
        lines += ["", note]
    lines += ["", f"Data: {summary.get('licence', '')}", ""]
    return "\n".join(lines)


def _teacher_signal(summary: dict[str, Any]) -> list[str]:
    kd = summary["models"].get("student-kd", {})
    if not (kd.get("teacher_forward_seconds") and kd.get("train_seconds")):
        return []
    share = 100.0 * kd["teacher_forward_seconds"] / kd["train_seconds"]
    return [
        "",
        f"Teacher signal: logits computed on the fly; the teacher's forward passes took "
        f"{kd['teacher_forward_seconds']:.1f} s of the KD student's {kd['train_seconds']:.1f} s of training "
        f"steps ({share:.0f}%).",
    ]


def write_report(
    summary: dict[str, Any],
    timings: dict[str, float],
    tasks: list[str],
    out_dir: str | Path,
    stem: str,
    note: str | None = None,
) -> list[Path]:
    """<stem>.md, <stem>.json and <stem>.png in out_dir."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = out / f"{stem}.md"
    md.write_text(markdown(summary, timings, tasks, note))
    rows = report_rows(summary)
    data = {**summary, "rows": rows, "goals": goals(summary), "stage_seconds": timings, "note": note}
    write_json(out / f"{stem}.json", data)
    png = out / f"{stem}.png"
    plot(rows, tasks, png, f"{summary.get('dataset', '')} ({summary['config']})")
    return [md, out / f"{stem}.json", png]


def plot(rows: list[dict[str, Any]], tasks: list[str], path: Path, title: str) -> None:
    """Grouped bars: AUC per task and mean for each model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [f"{t}_auc" for t in tasks] + ["mean_auc"]
    width = 0.8 / len(keys)
    fig, ax = plt.subplots(figsize=(8, 4))
    for j, key in enumerate(keys):
        xs = [i + j * width for i in range(len(rows))]
        ax.bar(xs, [r[key] or 0.0 for r in rows], width, label=key.replace("_auc", ""))
    ax.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(rows))])
    ax.set_xticklabels([r["model"] for r in rows], rotation=15)
    values = [r[k] for r in rows for k in keys if r[k] is not None] or [0.5]
    ax.set_ylim(max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.03))
    ax.set_ylabel("test AUC (global)")
    ax.set_title(f"Ranking AUC: {title}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
