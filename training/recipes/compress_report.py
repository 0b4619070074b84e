"""The compression report in the paper's shape: Tables 1-4 (pruning) and 8 (quantization); MD, JSON, PNG.

Deltas are relative AUC changes in percent (the paper's convention) against the unpruned, unquantized KD
student (the model being compressed) and against the teacher, with a 95% paired bootstrap interval over members
where the stages' scores were saved. A cell whose stage did not run says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.checkpoint_writer import write_json
from training.evaluation.report import LICENCE_NOTE, delta_percent
from training.recipes.compress_stages import CONTROL, REFERENCE, StageNames, pct

NOT_RUN = "not run"
# Goals of the issue: minimum mean-AUC delta (%) vs the unpruned/unquantized student.
QUANT_GOALS = {"fp8_dynamic": -0.05, "w8a8_int8": -0.1, "w4a16": -0.5}
PRUNE_GOAL = -0.1


def table_specs(summary: dict[str, Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(title, [(row label, stage name)]) for every table, from the config the run used."""
    cfg = summary["config"]
    names = StageNames.of(cfg)
    mlp = pct(cfg["recovery_mlp_sparsity"])
    heads = pct(cfg["head_sparsity"])
    gradual = names.gradual
    return [
        (
            "Table 2 — one-shot MLP pruning (OSSCAR, no recovery)",
            [(f"{pct(s)}% MLP", names.oneshot(s)) for s in cfg["oneshot_mlp_sparsities"]],
        ),
        (
            f"Table 1 — recovery after one-shot {mlp}% MLP pruning: SFT vs KD (teacher = unpruned KD student)",
            [
                ("no recovery", names.recovered()),
                ("SFT", names.recovered("sft")),
                ("KD", names.recovered("kd")),
                ("control: unpruned + same SFT steps", names.control("sft")),
                ("control: unpruned + same KD steps", names.control("kd")),
            ],
        ),
        (
            f"Table 3 — one-step vs gradual ({cfg['gradual_steps']} rounds) to {mlp}% MLP, KD, same total steps",
            [("one-step + KD", names.recovered("kd")), (f"gradual x{cfg['gradual_steps']} + KD", gradual)],
        ),
        (
            f"Table 4 — {heads}% of attention heads pruned",
            [("no recovery", names.heads()), ("KD", names.heads("kd"))],
        ),
        (
            "Table 8 — quantization of the KD student",
            [("unquantized (fp32)", REFERENCE)] + [(s, names.quant(s)) for s in cfg["schemes"]],
        ),
        (
            f"Table 8b — the whole chain: gradual {mlp}% MLP pruning + KD, then quantization",
            [("pruned, unquantized (fp32)", gradual)]
            + [(f"pruned + {s}", names.quant(s, gradual)) for s in cfg["schemes"]],
        ),
    ]


def table_rows(summary: dict[str, Any], rows: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One dict per row; a stage that did not run has `"status": "not run"` and no numbers."""
    models = summary["models"]
    out = []
    for label, name in rows:
        m = models.get(name)
        if m is None:
            out.append({"row": label, "stage": name, "status": NOT_RUN})
            continue
        row: dict[str, Any] = {"row": label, "stage": name, "status": "ok", "bytes": m.get("bytes")}
        row["num_parameters"] = m.get("num_parameters")
        for task, metrics in m["tasks"].items():
            row[f"{task}_auc"] = metrics["auc"]
        row["mean_auc"] = m["mean_auc"]
        for ref in (REFERENCE, "teacher"):
            if ref in models:
                row[f"delta_vs_{ref}_pct"] = delta_percent(m["mean_auc"], models[ref]["mean_auc"])
        interval = summary.get("intervals", {}).get(REFERENCE, {}).get(name)
        if interval is not None:
            row[f"delta_vs_{REFERENCE}_ci_pct"] = [interval["low_pct"], interval["high_pct"]]
        out.append(row)
    return out


SEEDS_TITLE = "Seed spread — the goal-bearing recoveries repeated (another calibration draw and KD batch order)"


def seed_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Per repeated recovery: its Δ% vs the student for every seed that ran, their mean and range, and the
    mean Δ vs the control's mean (pruning's cost with training noise averaged out)."""
    replicates = summary["config"].get("seed_replicates", 1)
    models = summary["models"]
    if replicates < 2 or REFERENCE not in models:
        return []
    ref = models[REFERENCE]["mean_auc"]
    bases = sorted({n.rsplit("-seed", 1)[0] for n in models if "-seed" in n})
    out = []
    for base in bases:
        names = [StageNames.seed(base, i) for i in range(replicates)]
        aucs = [models[n]["mean_auc"] for n in names if n in models]
        deltas = [delta_percent(a, ref) for a in aucs]
        row: dict[str, Any] = {"stage": base, "deltas_pct": deltas, "mean_delta_pct": sum(deltas) / len(deltas)}
        row["range_pct"] = [min(deltas), max(deltas)]
        controls = [
            models[n]["mean_auc"] for n in (StageNames.seed(CONTROL, i) for i in range(replicates)) if n in models
        ]
        if base != CONTROL and controls:
            mean_control = sum(controls) / len(controls)
            row["mean_delta_vs_control_pct"] = delta_percent(sum(aucs) / len(aucs), mean_control)
        out.append(row)
    return out


def _seed_table(rows: list[dict[str, Any]]) -> list[str]:
    head = ["stage", "seeds", f"Δ vs {REFERENCE} per seed", "mean", "range", f"mean Δ vs mean {CONTROL}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        per_seed = ", ".join(f"{d:+.3f}%" for d in r["deltas_pct"])
        lo, hi = r["range_pct"]
        vs_control = r.get("mean_delta_vs_control_pct")
        cells = [r["stage"], str(len(r["deltas_pct"])), per_seed, _delta(r["mean_delta_pct"])]
        cells += [f"[{lo:+.3f}, {hi:+.3f}]", "–" if vs_control is None else _delta(vs_control)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def goals(summary: dict[str, Any]) -> dict[str, str]:
    """The issue's targets: "yes" / "no (delta)" / "not run"."""
    cfg = summary["config"]
    names = StageNames.of(cfg)
    mlp = pct(cfg["recovery_mlp_sparsity"])
    heads = pct(cfg["head_sparsity"])
    checks = {
        f"pruned ({mlp}% MLP) + KD within {PRUNE_GOAL}% of the unpruned student": (
            [names.recovered("kd"), names.gradual],
            PRUNE_GOAL,
        ),
        f"{heads}% heads + KD within {PRUNE_GOAL}%": ([names.heads("kd")], PRUNE_GOAL),
    }
    for scheme, limit in QUANT_GOALS.items():
        checks[f"{scheme} >= {limit}%"] = ([names.quant(scheme)], limit)
    out = {label: _goal(summary, stages, limit) for label, (stages, limit) in checks.items()}
    for name, what in ((names.recovered("kd"), f"pruned ({mlp}% MLP)"), (names.heads("kd"), f"{heads}% heads")):
        label = f"{what} + KD within {PRUNE_GOAL}% of the control (unpruned + same KD steps)"
        out[label] = _goal(summary, [name], PRUNE_GOAL, reference=CONTROL)
    return out


def _goal(summary: dict[str, Any], names: list[str], limit: float, reference: str = REFERENCE) -> str:
    """Yes or no on the best point estimate, with its bootstrap interval when the scores were saved."""
    models = summary["models"]
    ran = [n for n in names if n in models]
    if not ran or reference not in models:
        return NOT_RUN
    best_name = max(ran, key=lambda n: models[n]["mean_auc"])
    best = delta_percent(models[best_name]["mean_auc"], models[reference]["mean_auc"])
    interval = summary.get("intervals", {}).get(reference, {}).get(best_name)
    ci = f", 95% CI [{interval['low_pct']:+.3f}, {interval['high_pct']:+.3f}]" if interval else ""
    return f"{'yes' if best >= limit else 'no'} ({best:+.3f}%{ci}, {best_name})"


def markdown(summary: dict[str, Any]) -> str:
    """All tables, the goals, and every stage's size, AUC per task and delta vs the teacher."""
    tasks = list(summary["eval"]["num_candidates"])
    ev = summary["eval"]
    lines = [
        "# Compression report: pruning + KD and quantization (paper Tables 1-4, 8)",
        "",
        f"Run: `{summary['run']}`, config `{summary['config']['name']}`. Metric: global ROC AUC on the test period "
        f"({ev['num_members']} members, candidates per task {ev['num_candidates']}), mean over tasks. "
        f"Δ = relative change in percent vs the unpruned KD student (`{REFERENCE}`) and vs the teacher. "
        f"95% CI: paired bootstrap over test members ({summary['config'].get('num_bootstrap', '–')} resamples) "
        f"of the Δ vs `{REFERENCE}`; it measures test-set noise, not training-seed noise. "
        f"Pruned MLP widths are rounded down to a multiple of {summary['config'].get('neuron_multiple', 1)} "
        "(the params column gives the real size).",
        "",
    ]
    for title, rows in table_specs(summary):
        lines += [f"## {title}", "", *_table(table_rows(summary, rows), tasks), ""]
    seeds = seed_rows(summary)
    if seeds:
        lines += [f"## {SEEDS_TITLE}", "", *_seed_table(seeds), ""]
    lines += ["## Goals (mean AUC Δ vs the unpruned, unquantized KD student unless stated)", ""]
    lines += [f"- {label}: **{status}**" for label, status in goals(summary).items()]
    lines += ["", "## Every stage", "", *_stage_table(summary, tasks), ""]
    if summary["not_run"]:
        lines += [f"Not run (time budget): {', '.join(summary['not_run'])}.", ""]
    lines += [LICENCE_NOTE, ""]
    return "\n".join(lines)


def _table(rows: list[dict[str, Any]], tasks: list[str]) -> list[str]:
    head = ["", "params", "size MB"] + [f"{t} AUC" for t in tasks]
    head += ["mean AUC", f"Δ vs {REFERENCE}", "95% CI", "Δ vs teacher"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r["status"] != "ok":
            lines.append("| " + " | ".join([r["row"]] + [NOT_RUN] * (len(head) - 1)) + " |")
            continue
        cells = [r["row"], _params(r["num_parameters"]), _mb(r["bytes"])]
        cells += [f"{r[f'{t}_auc']:.4f}" for t in tasks] + [f"{r['mean_auc']:.4f}"]
        ci = r.get(f"delta_vs_{REFERENCE}_ci_pct")
        cells += [_delta(r.get(f"delta_vs_{REFERENCE}_pct")), f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "–"]
        cells.append(_delta(r.get("delta_vs_teacher_pct")))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _stage_table(summary: dict[str, Any], tasks: list[str]) -> list[str]:
    head = ["stage", "tables", "params", "size MB"] + [f"{t} AUC (Δ% vs teacher)" for t in tasks]
    head += ["mean Δ vs teacher", "wall s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    teacher = summary["models"].get("teacher")
    for name, stage in summary["stages"].items():
        m = summary["models"].get(name)
        if m is None:
            lines.append("| " + " | ".join([name, ",".join(stage["tables"])] + [NOT_RUN] * (len(head) - 2)) + " |")
            continue
        cells = [name, ",".join(stage["tables"]), _params(m.get("num_parameters")), _mb(m.get("bytes"))]
        for t in tasks:
            auc = m["tasks"][t]["auc"]
            ref = teacher["tasks"][t]["auc"] if teacher else None
            cells.append(f"{auc:.4f} ({_delta(delta_percent(auc, ref) if ref else None)})")
        cells.append(_delta(delta_percent(m["mean_auc"], teacher["mean_auc"]) if teacher else None))
        cells.append(str(stage.get("wall_seconds")))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_compression_report(summary: dict[str, Any], prefix: str | Path) -> list[Path]:
    """<prefix>.md, <prefix>.json (summary + tables + goals) and <prefix>.png."""
    base = Path(prefix)
    base.parent.mkdir(parents=True, exist_ok=True)
    md = base.with_name(base.name + ".md")
    md.write_text(markdown(summary))
    tables = {title: table_rows(summary, rows) for title, rows in table_specs(summary)}
    tables[SEEDS_TITLE] = seed_rows(summary)
    data = {**summary, "tables": tables, "goals": goals(summary), "licence": LICENCE_NOTE}
    js = base.with_name(base.name + ".json")
    write_json(js, data)
    png = base.with_name(base.name + ".png")
    plot(summary, png)
    return [md, js, png]


def plot(summary: dict[str, Any], path: Path) -> None:
    """Bars: mean-AUC delta (%) of every compressed model vs the unpruned KD student, goal lines dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = summary["models"]
    names = [n for n in summary["stages"] if n in models and n not in ("teacher", REFERENCE)]
    fig, ax = plt.subplots(figsize=(9, 4))
    if REFERENCE in models and names:
        ref = models[REFERENCE]["mean_auc"]
        deltas = [delta_percent(models[n]["mean_auc"], ref) for n in names]
        colors = ["tab:orange" if n.startswith("quant-") else "tab:blue" for n in names]
        ax.bar(range(len(names)), deltas, color=colors)
        for i, d in enumerate(deltas):  # the small deltas are invisible as bars; print them
            ax.annotate(f"{d:+.2f}", (i, d), ha="center", va="bottom" if d >= 0 else "top", fontsize=7)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right")
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.axhline(PRUNE_GOAL, color="gray", linestyle="--", linewidth=0.8, label=f"{PRUNE_GOAL}% goal")
    ax.set_ylabel(f"mean AUC Δ% vs {REFERENCE}")
    ax.set_title(f"Compression on MovieLens ({summary['config']['name']}): pruning (blue), quantization (orange)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _delta(value: float | None) -> str:
    return NOT_RUN if value is None else f"{value:+.3f}%"


def _mb(num_bytes: int | None) -> str:
    return "–" if num_bytes is None else f"{num_bytes / 1e6:.2f}"


def _params(count: int | None) -> str:
    return "–" if count is None else f"{count / 1e6:.3f}M"
