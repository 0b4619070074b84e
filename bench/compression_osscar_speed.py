"""OSSCAR's time and layerwise error on one Qwen3-0.6B-shaped MLP layer, against Wanda and the old local search.

The layer: hidden 1024, MLP 3072 (Qwen3-0.6B's widths), 30% of the MLP neurons pruned (down_proj's 3072 inputs ->
2150 kept). Its inputs are synthetic SwiGLU activations silu(W_g h) · (W_u h) of hidden states h with a few
shared factors and outlier channels (no real Qwen3-0.6B weights are available offline), calibrated on 8,192
tokens; a second draw of 8,192 tokens measures held-out error. Every method gets the same LayerProblem; times are
selection + refit (+ the problem build shared by all, reported apart), one thread.

    .venv/bin/python bench/compression_osscar_speed.py [--threads 1] [--skip-old] [--device cuda]

Writes bench/results/compression-osscar-speed.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from compression.baselines import baseline_selection
from compression.layer_problem import GroupLayout, LayerProblem, num_kept
from compression.osscar import Osscar, OsscarConfig

HIDDEN, MLP, SPARSITY = 1024, 3072, 0.3
RESULTS = Path(__file__).resolve().parent / "results"
OLD_REVISION = "af01d5c"  # main before the pruned-set search and the in-place greedy updates


def swiglu_inputs(num_tokens: int, seed: int, mats: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """down_proj inputs [num_tokens, MLP] for hidden states with 16 shared factors and 8 outlier channels."""
    factors, gate, up = mats
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(num_tokens, 16, generator=gen) @ factors + 0.5 * torch.randn(num_tokens, HIDDEN, generator=gen)
    h[:, :8] *= 8.0
    return torch.nn.functional.silu(h @ gate.T) * (h @ up.T)


def build_layer() -> tuple[LayerProblem, torch.Tensor, float]:
    """The layer problem (calibration Gram), the held-out Gram and the build time in seconds."""
    gen = torch.Generator().manual_seed(0)
    factors = torch.randn(16, HIDDEN, generator=gen)
    gate = torch.randn(MLP, HIDDEN, generator=gen) * HIDDEN**-0.5
    up = torch.randn(MLP, HIDDEN, generator=gen) * HIDDEN**-0.5
    down = torch.randn(HIDDEN, MLP, generator=gen) * MLP**-0.5
    grams = []
    for seed in (1, 2):
        x = swiglu_inputs(8192, seed, (factors, gate, up)).double()
        grams.append(x.T @ x)
    start = time.perf_counter()
    problem = LayerProblem(grams[0], down.T.double(), GroupLayout(MLP, 1), damp=0.01)
    return problem, grams[1], time.perf_counter() - start


def held_out_error(problem: LayerProblem, gram: torch.Tensor, weight: torch.Tensor) -> float:
    diff = problem.weight - weight.double().cpu()
    dense = float(torch.einsum("pq,pr,rq->", problem.weight, gram, problem.weight))
    return float(torch.einsum("pq,pr,rq->", diff, gram, diff)) / dense


def run(name: str, problem: LayerProblem, held_out: torch.Tensor, keep: int, select: Any) -> dict[str, Any]:
    start = time.perf_counter()
    selection = select(problem, keep)
    seconds = time.perf_counter() - start
    row = {
        "method": name,
        "seconds": seconds,
        "error": problem.relative_error(selection.weight),
        "held_out_error": held_out_error(problem, held_out, selection.weight),
        "num_swaps": selection.num_swaps,
    }
    print(f"{name:48s} {seconds:8.2f} s  error {row['error']:.5f}  held-out {row['held_out_error']:.5f}", flush=True)
    return row


def osscar(config: OsscarConfig) -> Any:
    return lambda problem, keep: Osscar(config).select(problem, keep)


def cases() -> list[tuple[str, Any]]:
    new = OsscarConfig()
    out: list[tuple[str, Any]] = [
        ("wanda (plain)", lambda p, k: baseline_selection(p, k, "wanda")),
        ("wanda + refit", lambda p, k: baseline_selection(p, k, "wanda", refit=True)),
        ("osscar (new default)", osscar(new)),
        ("osscar new, greedy only (0 swap rounds)", osscar(replace(new, max_swap_rounds=0, warm_starts=()))),
        ("osscar new, 16 greedy steps", osscar(replace(new, num_greedy_steps=16))),
        ("osscar new, 128 greedy steps", osscar(replace(new, num_greedy_steps=128))),
        ("osscar new, every kept neuron a candidate", osscar(replace(new, swap_candidates=0))),
        ("osscar new, 100 rounds x 256 candidates", osscar(replace(new, swap_candidates=256, max_swap_rounds=100))),
    ]
    return out


def _old_module(name: str, path_in_repo: str, replacements: dict[str, str]) -> Any:
    """A module's source as of OLD_REVISION, imported under `name` (imports rewritten by `replacements`)."""
    import importlib.util
    import subprocess
    import tempfile

    source = subprocess.run(
        ["git", "show", f"{OLD_REVISION}:{path_in_repo}"], capture_output=True, text=True, check=True
    ).stdout
    for before, after in replacements.items():
        source = source.replace(before, after)
    path = Path(tempfile.mkdtemp()) / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def old_case(problem: LayerProblem) -> tuple[Any, Any]:
    """The code before this change (OLD_REVISION): its LayerProblem (same maths, weights as given) and OSSCAR."""
    layer_problem = _old_module("old_layer_problem", "compression/layer_problem.py", {})
    osscar_module = _old_module(
        "old_osscar", "compression/osscar.py", {"from compression.layer_problem": "from old_layer_problem"}
    )
    layout = layer_problem.GroupLayout(MLP, 1)
    old_problem = layer_problem.LayerProblem(problem.gram, problem.weight.T.contiguous().T, layout, damp=0.01)
    return old_problem, lambda p, k: osscar_module.Osscar(osscar_module.OsscarConfig()).select(p, k)


def write(rows: list[dict[str, Any]], build_seconds: float, args: argparse.Namespace) -> None:
    by = {r["method"]: r for r in rows}
    wanda = by["wanda + refit"]
    plain = by["wanda (plain)"]
    lines = [
        "# OSSCAR speed on one Qwen3-0.6B-shaped MLP layer",
        "",
        f"`bench/compression_osscar_speed.py --threads {args.threads}`: down_proj of hidden {HIDDEN}, MLP {MLP}, "
        f"{int(SPARSITY * 100)}% of neurons pruned; synthetic SwiGLU inputs (8,192 calibration tokens, 8,192 "
        f"held-out). {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), on a machine shared with other jobs: 1-minute load average "
        f"{args.load_before:.1f} at the start and {os.getloadavg()[0]:.1f} at the end on {os.cpu_count()} cores, so "
        "times are indicative; compare rows within one run.",
        f"Problem build (damped Gram, H·B; shared by every method, included in the ratios): {build_seconds:.2f} s.",
        "",
        "| method | seconds | × wanda+refit time | error | × wanda+refit error | × plain wanda error | "
        "held-out error | swaps |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio_t = (r["seconds"] + build_seconds) / (wanda["seconds"] + build_seconds)
        lines.append(
            f"| {r['method']} | {r['seconds']:.2f} | {ratio_t:.2f} | {r['error']:.6g} | "
            f"{r['error'] / wanda['error']:.4f} | {r['error'] / plain['error']:.4f} | {r['held_out_error']:.6g} | "
            f"{r['num_swaps']} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compression-osscar-speed.md").write_text("\n".join(lines) + "\n")
    payload = {"build_seconds": build_seconds, "threads": args.threads, "rows": rows, "config": asdict(OsscarConfig())}
    (RESULTS / "compression-osscar-speed.json").write_text(json.dumps(payload, indent=1) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-old", action="store_true", help="skip the old code's run (minutes)")
    args = parser.parse_args()
    args.load_before = os.getloadavg()[0]
    torch.set_num_threads(args.threads)
    problem, held_out, build_seconds = build_layer()
    keep = num_kept(MLP, SPARSITY)
    rows = [run(name, problem, held_out, keep, select) for name, select in cases()]
    if not args.skip_old:
        old_problem, select = old_case(problem)
        rows.append(run("osscar old code (before this change)", old_problem, held_out, keep, select))
    write(rows, build_seconds, args)


if __name__ == "__main__":
    main()
