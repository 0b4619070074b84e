"""The paper's compression tables on a trained MovieLens run: pruning + KD (Tables 1-4), quantization (Table 8).

Runs `training.recipes.compress_tables.run_compression_pipeline` on a finished `slmrank train pipeline` run
(teacher/, student-kd/, tokenizer/), resumably (stages under <run>/compression/), and writes
<out>.md, <out>.json and <out>.png. The scale knobs override the named config; the report records them.

    .venv/bin/python bench/compression_tables.py --run runs/demo-v2 --out bench/results/compression-tables \
        [--config demo] [--recovery-steps 600] [--max-eval-members 300] [--seed-replicates 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="finished training run directory (e.g. runs/demo-v2)")
    p.add_argument("--out", default="bench/results/compression-tables", help="report path prefix (.md/.json/.png)")
    p.add_argument("--config", default="demo", help="named compression config: smoke | demo")
    p.add_argument("--data", default="data/movielens-latest-small", help="MovieLens directory")
    p.add_argument("--recovery-steps", type=int, help="total KD/SFT steps per pruned model")
    p.add_argument("--max-eval-members", type=int, help="evaluate on the first N test members only")
    p.add_argument("--num-calibration", type=int, help="calibration prompts for pruning and GPTQ")
    p.add_argument("--gradual-steps", type=int, help="prune + KD rounds of the gradual recipe (Table 3)")
    p.add_argument("--oneshot-mlp-sparsities", type=float, nargs="*", help="Table 2 rows (none: skip Table 2)")
    p.add_argument("--schemes", nargs="*", help="quantization schemes (none: skip Tables 8 and 8b)")
    p.add_argument("--seed-replicates", type=int, help="seeds of the goal-bearing KD recoveries (1 = no repeats)")
    p.add_argument("--num-bootstrap", type=int, help="member resamples per delta interval")
    p.add_argument("--time-budget-s", type=float, help="start no stage after this many seconds")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import torch

    from training.recipes.compress_report import goals
    from training.recipes.compress_tables import get_config, run_compression_pipeline

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    config = get_config(args.config)
    overrides = {
        "recovery_steps": args.recovery_steps,
        "max_eval_members": args.max_eval_members,
        "num_calibration": args.num_calibration,
        "gradual_steps": args.gradual_steps,
        "seed_replicates": args.seed_replicates,
        "oneshot_mlp_sparsities": None if args.oneshot_mlp_sparsities is None else tuple(args.oneshot_mlp_sparsities),
        "schemes": None if args.schemes is None else tuple(args.schemes),
        "num_bootstrap": args.num_bootstrap,
    }
    config = replace(config, **{k: v for k, v in overrides.items() if v is not None})
    summary = run_compression_pipeline(args.run, config, args.data, args.out, args.time_budget_s)
    print(Path(args.out + ".md").read_text())
    for label, status in goals(summary).items():
        print(f"{label}: {status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
