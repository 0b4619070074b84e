"""`slmrank train ...` (tokenizer, teacher, student, pipeline, ship) and `slmrank evaluate`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_DATA = "data/movielens-latest-small"
REPRODUCE = "slmrank train pipeline --config demo --out runs/demo --report-dir training/reports --ship models/default"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `train` (with its stages) and `evaluate` to the slmrank CLI."""
    train = subparsers.add_parser(
        "train",
        help="train the tokenizer, teacher and students on MovieLens (resumable)",
        description="Training recipes. Every stage writes into --out/<stage>/ and a done.json when finished; "
        "re-running skips finished stages and resumes an interrupted one from its last checkpoint.",
    )
    stages = train.add_subparsers(dest="stage", metavar="STAGE", required=True)
    _common(
        stages.add_parser("tokenizer", help="train the byte-level BPE tokenizer on the rendered corpus"), _run_tokenizer
    )
    _common(
        stages.add_parser("teacher", help="train the teacher (FM) from scratch (trains the tokenizer first)"),
        _run_teacher,
    )
    student = stages.add_parser("student", help="train a student: --objective kd (needs the teacher) or sft")
    student.add_argument(
        "--objective",
        choices=("kd", "sft"),
        required=True,
        help="kd: 0.9 KL to the teacher + 0.1 CE on label tokens + 0.05 KL over the sequence; "
        "sft: CE on label tokens + 0.05 next-token CE",
    )
    _common(student, _run_student)
    pipe = stages.add_parser(
        "pipeline",
        help="tokenizer -> teacher -> SFT and KD students -> evaluation -> report",
        description=f"Everything from the raw ratings to the report. The shipped model is rebuilt with: {REPRODUCE}",
    )
    pipe.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="also write training-<config>.{md,json,png} here (default: <out>/report only)",
    )
    pipe.add_argument(
        "--note", default=None, help="a sentence appended to the report (e.g. how loaded the machine was)"
    )
    pipe.add_argument("--ship", type=Path, default=None, help="copy the KD student here afterwards (models/default)")
    pipe.add_argument(
        "--compress",
        action="store_true",
        help="then prune (one-shot, gradual, heads) + KD, quantize (FP8/INT8/W4A16) and evaluate every stage",
    )
    _common(pipe, _run_pipeline)
    compress = stages.add_parser(
        "compress",
        help="prune + KD, quantize and evaluate a finished pipeline run (the paper's Tables 1-4 and 8)",
        description="Runs on --out (a `train pipeline` run with teacher/ and student-kd/); resumable: finished "
        "stages under <out>/compression/ are skipped. Writes <report-dir>/compression-<config>.{md,json,png}.",
    )
    compress.add_argument("--out", type=Path, required=True, help="the pipeline run directory")
    compress.add_argument("--config", default="demo", help="smoke or demo")
    compress.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="MovieLens ml-latest-small folder")
    compress.add_argument("--report-dir", type=Path, default=None, help="report folder (default <out>/report)")
    compress.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    compress.set_defaults(handler=_run_compress)
    ship = stages.add_parser("ship", help="copy a run's KD student to models/default with a model card")
    ship.add_argument("--out", type=Path, required=True, help="the pipeline run directory")
    ship.add_argument("--to", type=Path, default=Path("models/default"), help="target folder (replaced)")
    ship.add_argument("--role", default="student-kd", help="which stage's model to ship")
    ship.set_defaults(handler=_run_ship)

    req = stages.add_parser(
        "request",
        help="print a POST /rank JSON body for a real MovieLens member (as a recommendation client renders it)",
        description="History (rated movies before the member's test period) and profile (train period) rendered "
        "as in training; candidates are the member's own test-period movies, their true ratings in metadata.",
    )
    req.add_argument("--user", type=int, default=414, help="MovieLens userId (1-610)")
    req.add_argument("--task", default="like", help="like or love")
    req.add_argument("--num-candidates", type=int, default=10, help="how many candidates")
    req.add_argument("--max-history", type=int, default=50, help="most recent history entries to send")
    req.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="MovieLens ml-latest-small folder")
    req.set_defaults(handler=_run_request)

    ev = subparsers.add_parser(
        "evaluate",
        help="test-period AUC per task of checkpoints and non-LLM baselines",
        description="Scores the MovieLens test period (last 20%% of each member's ratings) with each --model "
        "checkpoint (its own tokenizer and slmrank.json budgets) and the popularity and user+item bias "
        "baselines; prints global AUC per task and the mean. Use it for pruned and quantized models too.",
    )
    ev.add_argument("--model", type=Path, action="append", required=True, help="checkpoint directory (repeatable)")
    ev.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="MovieLens ml-latest-small folder")
    ev.add_argument("--tasks", default="like,love", help="comma-separated tasks")
    ev.add_argument("--json", type=Path, default=None, help="write the results here as JSON")
    ev.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ev.set_defaults(handler=_run_evaluate)


def _common(parser: argparse.ArgumentParser, handler) -> None:
    parser.add_argument("--config", default="demo", help="smoke (CI, <2 min), demo (2 CPU cores, <20 min) or gpu")
    parser.add_argument("--out", type=Path, default=None, help="run directory (default runs/<config>)")
    parser.add_argument("--data", type=Path, default=Path(DEFAULT_DATA), help="MovieLens ml-latest-small folder")
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.set_defaults(handler=handler)


def _pipeline(args: argparse.Namespace):
    import dataclasses

    import torch

    from training.recipes.pipeline import Pipeline
    from training.recipes.pipeline_config import get_config

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    config = get_config(args.config)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    return Pipeline(config, args.out or Path("runs") / config.name, args.data)


def _run_tokenizer(args: argparse.Namespace) -> int:
    p = _pipeline(args)
    p.stage("tokenizer", p.train_tokenizer)
    return 0


def _run_teacher(args: argparse.Namespace) -> int:
    p = _pipeline(args)
    p.stage("tokenizer", p.train_tokenizer)
    p.stage("teacher", lambda d: p.train_model(d, "teacher"))
    return 0


def _run_student(args: argparse.Namespace) -> int:
    p = _pipeline(args)
    p.stage("tokenizer", p.train_tokenizer)
    if args.objective == "kd" and not (p.out / "teacher" / "done.json").exists():
        print("error: the KD student needs a finished teacher; run `slmrank train teacher` first")
        return 2
    role = f"student-{args.objective}"
    p.stage(role, lambda d: p.train_model(d, role))
    return 0


def _run_pipeline(args: argparse.Namespace) -> int:
    from training.evaluation.report import write_report
    from training.shipper import ship

    p = _pipeline(args)
    summary = p.run()
    stem = f"training-{p.config.name}"
    tasks = list(p.config.tasks)
    paths = write_report(summary, p.timings(), tasks, p.out / "report", stem, args.note)
    if args.report_dir is not None:
        paths = write_report(summary, p.timings(), tasks, args.report_dir, stem, args.note)
    print((paths[0]).read_text())
    if args.ship is not None:
        print(f"shipped to {ship(p.out / 'student-kd' / 'model', args.ship, REPRODUCE)}")
    if args.compress:
        _compress(p.out, p.config.name, args.data, args.report_dir or p.out / "report")
    return 0


def _run_compress(args: argparse.Namespace) -> int:
    import torch

    torch.set_num_threads(args.threads)
    _compress(args.out, args.config, args.data, args.report_dir or args.out / "report")
    return 0


def _compress(run_dir: Path, config_name: str, data_dir: Path, report_dir: Path) -> None:
    """Prune + KD, quantize, evaluate; the report is rewritten after every stage."""
    from training.compression_pipeline import get_config, run_compression_pipeline

    prefix = report_dir / f"compression-{config_name}"
    run_compression_pipeline(run_dir, get_config(config_name), data_dir=data_dir, report_prefix=prefix)
    print(Path(f"{prefix}.md").read_text())


def _run_ship(args: argparse.Namespace) -> int:
    from training.shipper import ship

    print(f"shipped to {ship(args.out / args.role / 'model', args.to, REPRODUCE)}")
    return 0


def _run_request(args: argparse.Namespace) -> int:
    import json

    from training.data.movielens import MovieLens
    from training.data.request_builder import rank_request
    from training.data.split import ChronologicalSplit

    split = ChronologicalSplit(MovieLens.load(args.data))
    body = rank_request(split, args.user, args.task, args.num_candidates, args.max_history)
    print(json.dumps(body, indent=1))
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    import json

    import torch

    from training.checkpoint_writer import load_model
    from training.data.example_builder import ExampleBuilder
    from training.data.movielens import MovieLens
    from training.data.split import ChronologicalSplit
    from training.evaluation.evaluation_run import baseline_results, checkpoint_result

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    split = ChronologicalSplit(MovieLens.load(args.data))
    _, tokenizer, card = load_model(args.model[0])
    examples = ExampleBuilder(split, tokenizer, card.prompt, tasks)
    results = baseline_results(split, {t: examples.eval_groups("test", t) for t in tasks})
    for model_dir in args.model:
        results[str(model_dir)] = checkpoint_result(model_dir, split, tasks)
    for name, r in results.items():
        per_task = "  ".join(f"{t}={m['auc']:.4f}" for t, m in r["tasks"].items())
        print(f"{name:40s} {per_task}  mean={r['mean_auc']:.4f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
