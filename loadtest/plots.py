"""PNG plots a person would rather look at than read: TTFT CDFs per configuration, and a rate sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot_cdf(curves: Sequence[tuple[str, Sequence[float]]], path: Path, title: str) -> Path:
    """Empirical CDF of TTFT (ms, log x) for each (label, latencies) pair."""
    fig, ax = plt.subplots(figsize=(8, 5))
    for label, values in curves:
        if not values:
            continue
        xs = np.sort(np.asarray(values, dtype=float))
        ys = np.arange(1, len(xs) + 1) / len(xs)
        ax.step(xs, ys, where="post", label=f"{label} (N={len(xs)})")
    ax.set_xscale("log")
    ax.set_xlabel("TTFT = time to all k scores, from scheduled send (ms, log scale)")
    ax.set_ylabel("fraction of requests")
    ax.axhline(0.99, color="grey", lw=0.8, ls=":")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def plot_sweep(sweep: dict[str, Any], path: Path) -> Path:
    """P50/P90/P99 TTFT against offered load, with the SLO line and the highest rate that met it."""
    runs = sweep["runs"]
    rates = [r["schedule"]["rate"] for r in runs]
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, style in (("p50", "o-"), ("p90", "s-"), ("p99", "^-")):
        ax.plot(rates, [_ms(r["ttft_ms"].get(key)) for r in runs], style, label=f"{key.upper()} TTFT")
    failed = [r for r in runs if r.get("meets_slo") is False]
    if failed:
        ys = [_ms(r["ttft_ms"].get(f"p{sweep['slo_percentile']:g}")) for r in failed]
        ax.plot([r["schedule"]["rate"] for r in failed], ys, "rx", ms=12, mew=2, label="misses the SLO")
    ax.axhline(
        sweep["slo_ms"],
        color="red",
        ls="--",
        label=f"SLO: P{sweep['slo_percentile']:g} ≤ {sweep['slo_ms']:g} ms",
    )
    if sweep.get("best_rate") is not None:
        ax.axvline(
            sweep["best_rate"],
            color="green",
            ls=":",
            label=f"highest rate meeting SLO: {sweep['best_rate']:g}/s",
        )
    ax.set_xlabel("offered load (members/s, open-loop arrivals)")
    ax.set_ylabel("TTFT (ms, log scale)")
    ax.set_yscale("log")
    ax.set_title(sweep.get("label", "sweep"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)


def _ms(value: float | None) -> float:
    return float("nan") if value is None else value


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
