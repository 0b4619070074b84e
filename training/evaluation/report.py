"""The evaluation report in the paper's form: AUC per task and mean, delta (%) vs the teacher; MD, JSON, PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.checkpoint_writer import write_json

LICENCE_NOTE = (
    "Data: MovieLens ml-latest-small (GroupLens Research, University of Minnesota; Harper & Konstan 2015, "
    "ACM TiiS 5(4)), research use only, non-commercial; derived results are distributed under the same terms."
)


def delta_percent(value: float, reference: float) -> float:
    """Relative AUC change in percent, as the paper reports it."""
    return 100.0 * (value - reference) / reference


def report_rows(summary: dict[str, Any], reference: str = "teacher") -> list[dict[str, Any]]:
    """One row per model: per-task AUC, mean AUC, their deltas vs the reference, parameters."""
    models = summary["models"]
    ref = models[reference]
    rows = []
    for name, m in models.items():
        tasks = m["tasks"]
        row = {
            "model": name,
            "kind": m["kind"],
            "num_parameters": m.get("num_parameters"),
            "mean_auc": m["mean_auc"],
            "mean_member_auc": m["mean_member_auc"],
            "delta_mean_pct": delta_percent(m["mean_auc"], ref["mean_auc"]),
        }
        for task, metrics in tasks.items():
            row[f"{task}_auc"] = metrics["auc"]
            row[f"{task}_delta_pct"] = delta_percent(metrics["auc"], ref["tasks"][task]["auc"])
        rows.append(row)
    return rows


def goals(summary: dict[str, Any]) -> dict[str, bool]:
    """The issue's three targets, checked honestly."""
    m = summary["models"]
    best_baseline = max(v["mean_auc"] for v in m.values() if v["kind"] == "baseline")
    teacher, kd, sft = m["teacher"]["mean_auc"], m["student-kd"]["mean_auc"], m["student-sft"]["mean_auc"]
    return {
        "teacher >= best non-LLM baseline": teacher >= best_baseline,
        "KD student within -0.2% of the teacher": delta_percent(kd, teacher) >= -0.2,
        "KD student > SFT student": kd > sft,
    }


def markdown(summary: dict[str, Any], timings: dict[str, float], tasks: list[str], note: str | None = None) -> str:
    """The Markdown table, the goals and the stage wall times."""
    rows = report_rows(summary)
    head = ["model", "params"] + [f"{t} AUC (Δ%)" for t in tasks] + ["mean AUC", "Δ mean vs teacher", "member AUC"]
    lines = [
        f"# Training report: `{summary['config']}`",
        "",
        f"Metric: {summary['metric']}; Δ = relative change vs the teacher in percent.",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        params = f"{r['num_parameters'] / 1e6:.2f}M" if r["num_parameters"] else "–"
        cells = [r["model"], params]
        cells += [f"{r[f'{t}_auc']:.4f} ({r[f'{t}_delta_pct']:+.2f}%)" for t in tasks]
        cells += [f"{r['mean_auc']:.4f}", f"{r['delta_mean_pct']:+.2f}%", f"{r['mean_member_auc']:.4f}"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Goals:", ""]
    lines += [f"- {name}: {'yes' if ok else '**no**'}" for name, ok in goals(summary).items()]
    kd = summary["models"].get("student-kd", {})
    if kd.get("teacher_forward_seconds") and kd.get("train_seconds"):
        share = 100.0 * kd["teacher_forward_seconds"] / kd["train_seconds"]
        lines += [
            "",
            f"Teacher signal: logits computed on the fly; the teacher's forward passes took "
            f"{kd['teacher_forward_seconds']:.1f} s of the KD student's {kd['train_seconds']:.1f} s of "
            f"training steps ({share:.0f}%).",
        ]
    lines += ["", "Stage wall times (s):", "", "| stage | seconds |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in timings.items()]
    if note:
        lines += ["", note]
    lines += ["", LICENCE_NOTE, ""]
    return "\n".join(lines)


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
    data = {
        **summary,
        "rows": report_rows(summary),
        "goals": goals(summary),
        "stage_seconds": timings,
        "licence": LICENCE_NOTE,
        "note": note,
    }
    write_json(out / f"{stem}.json", data)
    png = out / f"{stem}.png"
    plot(report_rows(summary), tasks, png, summary["config"])
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
        ax.bar(xs, [r[key] for r in rows], width, label=key.replace("_auc", ""))
    ax.set_xticks([i + width * (len(keys) - 1) / 2 for i in range(len(rows))])
    ax.set_xticklabels([r["model"] for r in rows], rotation=15)
    low = min(r[k] for r in rows for k in keys)
    ax.set_ylim(max(0.0, low - 0.05), min(1.0, max(r[k] for r in rows for k in keys) + 0.03))
    ax.set_ylabel("test AUC (global)")
    ax.set_title(f"MovieLens ranking AUC ({title})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
