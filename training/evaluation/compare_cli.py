"""`slmrank compare REFERENCE CANDIDATE`: any two rows of `slmrank evaluate` tables, paired over members.

`slmrank evaluate --report` pairs every row with the strongest baselines; this pairs any two score files it wrote
(`<json stem>-scores/*.scores.npz`, one per model and baseline), also across runs of the same data and split:
Δ% of the mean-over-tasks global AUC and per-member AUC, with 95% bootstrap intervals over members.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register_compare(subparsers: argparse._SubParsersAction) -> None:
    cmp = subparsers.add_parser(
        "compare",
        help="paired Δ%% of global and per-member AUC between two `slmrank evaluate` score files",
        description="Both files must score the same candidates (same dataset, split and tasks); members are "
        "resampled with replacement for the 95%% intervals.",
    )
    cmp.add_argument("reference", type=Path, help="a *.scores.npz written by slmrank evaluate --json")
    cmp.add_argument("candidate", type=Path, help="another one, of the same candidates")
    cmp.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    cmp.set_defaults(handler=run_compare)


def run_compare(args: argparse.Namespace) -> int:
    from training.cli_errors import user_errors

    return user_errors(_compare)(args)


def _compare(args: argparse.Namespace) -> int:
    from training.evaluation.bootstrap import paired_auc_delta, paired_member_auc_delta
    from training.evaluation.evaluator import load_task_scores
    from training.setup_error import SetupError

    reference, candidate = load_task_scores(args.reference), load_task_scores(args.candidate)
    lines = [f"{args.candidate.name} against {args.reference.name} (Δ% [95%], {args.resamples} resamples):"]
    for name, delta in (("global AUC", paired_auc_delta), ("per-member AUC", paired_member_auc_delta)):
        try:
            found = delta(reference, candidate, args.resamples)
        except ValueError as exc:  # not the same candidates: nothing to pair
            raise SetupError(f"{args.candidate} vs {args.reference}: {exc}") from None
        lines.append(f"  {name}: {found.delta_pct:+.2f} [{found.low_pct:+.2f}, {found.high_pct:+.2f}]")
    print("\n".join(lines))
    return 0
