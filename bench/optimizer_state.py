"""Optimiser-state memory of float32 AdamW vs torchao's AdamW8bit for the presets' models: computed and measured.

For each model (a preset's teacher or student, randomly initialised at the preset's shape and vocabulary size):
the computed bytes (AdamW: 2 float32 moments = 8 bytes per parameter; AdamW8bit: 1 byte per value per moment plus
one float32 scale per 256-value block for tensors of >= 4,096 values that split into whole blocks, float32
moments for the others), and the measured bytes of the state tensors after one optimiser step on random gradients
(`training/optimizer_factory.py: optimizer_state_bytes`), with that step's wall time (the first 8-bit step includes
torch.compile; the second is timed separately). Also the whole static training state (weights + gradients +
optimiser state) to put the saving in proportion, and one training step of the `demo` teacher with each optimiser
(bench/train_step.py's `sampled` and `sampled+adamw8bit` workers: tokens/s and the process's peak RSS).

    .venv/bin/python bench/optimizer_state.py          # writes bench/results/optimizer-state-cpu.{md,json}
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BLOCK, MIN_VALUES = 256, 4096
MODELS = [("demo", "teacher"), ("demo", "student"), ("gpu", "student"), ("gpu", "teacher")]


class Vocab:
    """What build_model reads of a tokenizer: its length and special ids."""

    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

    def __init__(self, size: int) -> None:
        self.size = size

    def __len__(self) -> int:
        return self.size


def computed_bytes(shapes: list[int]) -> tuple[int, int]:
    """(float32 AdamW, AdamW8bit) bytes of the two moments for parameters of these sizes."""
    fp32 = sum(8 * n for n in shapes)
    small = 0
    for n in shapes:
        small += 2 * (n + 4 * (n // BLOCK)) if n >= MIN_VALUES and n % BLOCK == 0 else 8 * n
    return fp32, small


def measure(model, name: str) -> tuple[int, float, float]:
    """State bytes after one step on random gradients; seconds of the first and of the second step."""
    import torch

    from training.optimizer_factory import build_optimizer, optimizer_state_bytes

    optimizer = build_optimizer(name, model.parameters(), 1e-4, 0.01)
    seconds = []
    for _ in range(2):
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        started = time.perf_counter()
        optimizer.step()
        seconds.append(time.perf_counter() - started)
    return optimizer_state_bytes(optimizer), seconds[0], seconds[1]


def one_model(preset: str, role: str, measured: bool) -> dict:
    from training.model_factory import build_model, num_parameters
    from training.recipes.config_loader import load_config

    config = load_config(preset)
    model = build_model(getattr(config, role), Vocab(config.tokenizer.vocab_size), seed=0)
    shapes = [p.numel() for p in model.parameters()]
    fp32, small = computed_bytes(shapes)
    row = {"model": f"{preset} {role}", "parameters": num_parameters(model), "vocab": config.tokenizer.vocab_size,
           "computed_fp32": fp32, "computed_8bit": small,
           "static_fp32": 16 * sum(shapes), "static_8bit": 8 * sum(shapes) + small}  # fmt: skip
    if measured:
        for name, key in (("adamw", "fp32"), ("adamw8bit", "8bit")):
            model.zero_grad(set_to_none=True)
            state, first, second = measure(model, name)
            row |= {f"measured_{key}": state, f"first_step_s_{key}": first, f"step_s_{key}": second}
    return row


def train_steps(steps: int) -> list[dict]:
    """bench/train_step.py's worker for the demo teacher with each optimiser, each in a fresh process."""
    import subprocess
    import tempfile

    rows = []
    for variant in ("sampled", "sampled+adamw8bit"):
        result = Path(tempfile.mkdtemp()) / "result.json"
        cmd = [sys.executable, str(REPO / "bench/train_step.py"), "--worker", variant, "--steps", str(steps),
               "--result", str(result)]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
        subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows.append(json.loads(result.read_text()))
    return rows


def steps_table(rows: list[dict]) -> str:
    lines = [
        "",
        f"One training step of the `demo` teacher ({rows[0]['tokens_per_step']:.0f} packed tokens, "
        f"{rows[0]['steps']} timed steps after 1 warm-up step, 1 thread; the 8-bit warm-up includes torch.compile):",
        "",
        "| optimiser | tokens/s | s/step | peak RSS (MiB) |",
        "|---|---|---|---|",
    ]
    for r, name in zip(rows, ("AdamW (float32)", "AdamW8bit"), strict=True):
        lines.append(f"| {name} | {r['tokens_per_s']:.0f} | {r['seconds_per_step']:.2f} | "
                     f"{r['peak_mib_per_process']:.0f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def mib(n: float) -> str:
    return f"{n / 2**20:,.1f}"


def table(rows: list[dict]) -> str:
    lines = [
        f"# Optimiser state: float32 AdamW vs torchao AdamW8bit ({platform.processor() or 'cpu'}, 1 thread)",
        "",
        "`python bench/optimizer_state.py`. Computed: 8 bytes per parameter for AdamW's two float32 moments; "
        "AdamW8bit keeps both moments of tensors with >= 4,096 values (whole 256-value blocks) as 1-byte codes + a "
        "float32 scale per block, the rest in float32. Measured: the state tensors after one step on random "
        "gradients (the same count when the two agree). Static = weights + gradients + optimiser state "
        "(activations not included: they dominate a step, see docs/training.md).",
        "",
        "| model | parameters | AdamW state MiB (computed / measured) | AdamW8bit state MiB (computed / measured) "
        "| saved MiB | static fp32 → 8-bit MiB | step s fp32 / 8-bit (first 8-bit step, compile) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        meas = "measured_fp32" in r
        m32 = mib(r["measured_fp32"]) if meas else "–"
        m8 = mib(r["measured_8bit"]) if meas else "–"
        steps = f"{r['step_s_fp32']:.3f} / {r['step_s_8bit']:.3f} ({r['first_step_s_8bit']:.1f})" if meas else "–"
        lines.append(f"| {r['model']} | {r['parameters'] / 1e6:.2f}M | {mib(r['computed_fp32'])} / {m32} | "
                     f"{mib(r['computed_8bit'])} / {m8} | {mib(r['computed_fp32'] - r['computed_8bit'])} | "
                     f"{mib(r['static_fp32'])} → {mib(r['static_8bit'])} | {steps} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--computed-only", action="store_true", help="skip the optimiser steps")
    parser.add_argument("--train-steps", type=int, default=5, help="demo teacher steps per optimiser (0: none)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/optimizer-state-cpu.md")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    # The training steps first: a child's peak RSS (ru_maxrss) starts from its parent's RSS at the fork.
    steps = train_steps(args.train_steps) if args.train_steps > 0 and not args.computed_only else []
    rows = [one_model(preset, role, not args.computed_only) for preset, role in MODELS]
    args.out.write_text(table(rows) + (steps_table(steps) if steps else ""))
    args.out.with_suffix(".json").write_text(json.dumps({"models": rows, "train_steps": steps}, indent=1) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
