"""Tokens/s and peak memory of training steps: the loss paths, gradient checkpointing, bf16, 1 vs 2 processes.

Each variant runs in its own process (peak memory is per process): the `demo` teacher (or another preset's) on
MovieLens, the teacher objective, 1 warm-up step then `--steps` timed steps. Tokens are the packed rows' tokens
(prefix once per group). Peak memory: CUDA's max allocated on a GPU, else the process's peak RSS (ru_maxrss:
it includes Python, torch and the dataset, so compare the rows with each other, not with the model size).

    .venv/bin/python bench/train_step.py                    # this CPU, writes bench/results/train-step-cpu.md
    .venv/bin/python bench/train_step.py --worker sampled --config gpu --device cuda --precision bf16 --steps 300

The second form is what bench/gpu_train.sh runs: one variant, printed as JSON (tokens/s, MFU, peak memory, device).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# Variant -> TrainConfig changes (and the number of processes).
VARIANTS: dict[str, tuple[dict, int]] = {
    "all-positions": ({"sequence_positions_per_row": 0}, 1),
    "all-positions, chunked": ({"sequence_positions_per_row": 0, "sequence_chunk_rows": 256}, 1),
    "sampled": ({}, 1),
    "sampled+checkpointing": ({"gradient_checkpointing": True}, 1),
    "sampled+accum4": ({"grad_accum_steps": 4}, 1),
    "sampled+bf16": ({"precision": "bf16"}, 1),
    "sampled, 2 processes": ({}, 2),
    "sampled+adamw8bit": ({"optimizer": "adamw8bit"}, 1),
    "all-positions, liger": ({"sequence_positions_per_row": 0, "fused_loss": "liger"}, 1),
}
CUDA_ONLY = {"all-positions, liger"}
NOTES = {
    "all-positions": "LM head and loss on every position: (tokens, V) logits built",
    "all-positions, chunked": "the same, LM head + loss 256 rows at a time (sequence_chunk_rows)",
    "sampled": "the recipe: label rows + 64 sampled positions per row",
    "sampled+checkpointing": "decoder activations recomputed in backward",
    "sampled+accum4": "the same step as 4 micro-batches",
    "sampled+bf16": "bf16 autocast, fp32 master weights",
    "sampled, 2 processes": "torchrun, gloo, FSDP2; tokens/s of both ranks together",
    "sampled+adamw8bit": "torchao AdamW8bit instead of float32 AdamW",
    "all-positions, liger": "every position, LM head + CE fused by Liger's kernel (CUDA only)",
}
# Dense bf16 peak FLOP/s for MFU, by device name substring.
PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "L40": 181e12}


def worker(args: argparse.Namespace) -> dict:
    """Train `args.steps` (+1 warm-up) steps of one variant; rank 0 returns the measurements."""
    import dataclasses

    import numpy as np
    import torch

    from training.global_batch import row_len
    from training.model_factory import build_model, num_parameters
    from training.objectives.ranking_losses import SupervisedRankingLoss
    from training.recipes.config_loader import load_config
    from training.recipes.model_init import check_labels
    from training.recipes.pipeline import Pipeline

    torch.set_num_threads(args.threads)
    changes = dict(VARIANTS[args.worker][0])
    if args.precision:
        changes["precision"] = args.precision
    config = load_config(args.config, [f'device="{args.device}"', f"max_members={args.members}", *args.overrides])
    pipe = Pipeline(config, args.work, args.data)
    pipe.stage("tokenizer", pipe.prepare_tokenizer)
    examples, tok = pipe.examples(), pipe.tokenizer()
    tasks = tuple(pipe.data.spec.task(t) for t in pipe.tasks)
    model = build_model(config.teacher, tok, config.seed)
    labels = check_labels(tok, tasks, model.get_output_embeddings().weight.shape[0], "teacher")
    train = dataclasses.replace(config.teacher_train, steps=args.steps + 1, checkpoint_every=0, **changes)
    from training.trainer import Trainer

    out = Path(tempfile.mkdtemp(prefix="bench-step-"))
    trainer = Trainer(model, examples, labels, tok.pad_token_id, train, out, SupervisedRankingLoss(0.05),
                      device=pipe.device, parallel=pipe.parallel)  # fmt: skip
    trainer.module.train()
    trainer.train_step()  # warm-up
    trainer.step = 1
    if pipe.device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    tokens, started = 0, time.perf_counter()
    while trainer.step < train.steps:
        groups = examples.train_groups(np.random.default_rng([train.seed, trainer.step]), train.groups_per_step)
        tokens += sum(row_len(g) for g in groups)
        trainer.train_step()
        trainer.step += 1
    if pipe.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    if pipe.device.type == "cuda":
        peak_mib = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak = pipe.parallel.all_reduce_sum(torch.tensor([peak_mib], dtype=torch.float64)).item()
    result = {
        "variant": args.worker,
        "config": args.config,
        "device": torch.cuda.get_device_name(pipe.device)
        if pipe.device.type == "cuda"
        else platform.processor() or "cpu",
        "precision": train.precision,
        "world_size": pipe.parallel.world_size,
        "parameters": num_parameters(model),
        "steps": args.steps,
        "tokens_per_step": tokens / args.steps,
        "tokens_per_s": tokens / seconds,
        "seconds_per_step": seconds / args.steps,
        "peak_mib_per_process": peak / pipe.parallel.world_size,
        "peak_kind": "cuda max allocated" if pipe.device.type == "cuda" else "peak RSS",
    }
    # MFU: 6 x parameters x tokens (forward + backward, attention FLOPs left out: a lower bound).
    peak_flops = next((v for k, v in PEAK_BF16.items() if k in result["device"]), None)
    flops = 6 * result["parameters"] * result["tokens_per_s"]
    result["mfu"] = flops / (peak_flops * pipe.parallel.world_size) if peak_flops else None
    return result


def device_name(device) -> str:
    import torch

    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores visible)"


def run_variant(name: str, args: argparse.Namespace) -> dict:
    """One variant in a fresh process (torchrun for 2 processes); its JSON result."""
    procs = VARIANTS[name][1]
    result_file = Path(tempfile.mkdtemp()) / "result.json"
    launcher = [sys.executable]
    if procs > 1:
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={procs}"]
    cmd = [*launcher, __file__, "--worker", name, "--data", str(args.data), "--work", str(args.work),
           "--config", args.config, "--steps", str(args.steps), "--members", str(args.members),
           "--threads", str(args.threads), "--device", args.device, "--result", str(result_file),
           *(f"--set={o}" for o in args.overrides)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PYTHONPATH": str(REPO)}
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL)
    return json.loads(result_file.read_text())


def table(rows: list[dict], args: argparse.Namespace) -> str:
    base = next(r for r in rows if r["variant"] == "sampled")
    lines = [
        f"# One training step of the `{args.config}` teacher ({base['parameters'] / 1e6:.2f}M parameters), "
        f"{base['device']}",
        "",
        f"`python bench/train_step.py --steps {args.steps}`: MovieLens (first {args.members} members), "
        f"{base['tokens_per_step']:.0f} packed tokens per step ({args.threads} torch thread(s) per process, 2 "
        "cores shared with other work: compare rows of one run; timings move by ~20% between runs). "
        "Peak memory is the process's peak RSS, which "
        "includes Python, torch and the dataset.",
        "",
        "| variant | tokens/s | s/step | peak RSS per process (MiB) | what |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['tokens_per_s']:.0f} | {r['seconds_per_step']:.2f} | "
                     f"{r['peak_mib_per_process']:.0f} | {NOTES[r['variant']]} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="dataset folder (default: MovieLens, converted)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "slmrank-bench-train")
    parser.add_argument("--config", default="demo")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default=None, help="worker only: override the variant's precision")
    parser.add_argument("--worker", default=None, choices=sorted(VARIANTS))
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="config override (worker)")
    parser.add_argument("--result", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/train-step-cpu.md")
    args = parser.parse_args()
    if args.data is None:
        args.data = args.work / "movielens"
        if not (args.data / "dataset.json").exists():
            from training.data.movielens_converter import convert

            convert(args.data)
    if args.worker:
        result = worker(args)
        if int(os.environ.get("RANK", "0")) == 0:
            text = json.dumps(result, indent=1)
            print(text)
            if args.result:
                args.result.write_text(text)
        return
    rows = [run_variant(name, args) for name in VARIANTS if args.device == "cuda" or name not in CUDA_ONLY]
    args.out.write_text(table(rows, args))
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")
    print(args.out.read_text())


if __name__ == "__main__":
    main()
