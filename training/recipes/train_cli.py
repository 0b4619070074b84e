"""`slmrank train tokenizer|teacher|student|pipeline|ship|request`: the pipeline recipe's command lines."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from training.cli_errors import Handler, user_errors

if TYPE_CHECKING:
    from training.recipes.pipeline import Pipeline

REPRODUCE = (
    "slmrank data movielens --out data/movielens && slmrank train pipeline --data data/movielens --config demo "
    "--out runs/demo --report-dir training/reports"
)


def add_run_arguments(parser: argparse.ArgumentParser, handler: Handler) -> None:
    """--data, --config, --set, --out, model inits, seed and threads: shared by every training stage."""
    parser.add_argument("--data", type=Path, required=True, help="dataset folder (docs/data.md)")
    parser.add_argument(
        "--config", default="demo", help="a preset (tiny, smoke, demo, gpu) or a TOML file (docs/training.md)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set teacher_train.steps=200 (repeatable; unknown keys are errors)",
    )
    parser.add_argument("--out", type=Path, default=None, help="run directory (default runs/<config name>)")
    parser.add_argument("--teacher-init", default=None, help="start the teacher from this local HF checkpoint")
    parser.add_argument(
        "--student-init",
        default=None,
        help="start the students from this local HF checkpoint, or `prune-teacher` (OSSCAR on the teacher)",
    )
    parser.add_argument("--seed", type=int, default=None, help="override the config's seed")
    parser.add_argument(
        "--device", choices=("auto", "cpu", "cuda"), default=None, help="override the config's device (auto)"
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.set_defaults(handler=user_errors(handler))


def register_train(stages: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The pipeline's stages as `slmrank train` subcommands."""
    add_run_arguments(stages.add_parser("tokenizer", help="train the byte-level BPE tokenizer"), run_tokenizer)
    add_run_arguments(stages.add_parser("teacher", help="train the teacher (tokenizer first)"), run_teacher)
    add_run_arguments(
        stages.add_parser(
            "teacher-scores",
            help="write the finished teacher's log-probs for every student step into --out/teacher-scores "
            "(then --set teacher_scores.path=OUT/teacher-scores trains KD students without the teacher)",
        ),
        run_teacher_scores,
    )
    student = stages.add_parser("student", help="train a student: --objective kd (needs the teacher) or sft")
    student.add_argument(
        "--objective",
        choices=("kd", "sft"),
        required=True,
        help="kd: 0.9 KL to the teacher + 0.1 CE on label tokens + 0.05 KL over the sequence; "
        "sft: CE on label tokens + 0.05 next-token CE",
    )
    add_run_arguments(student, run_student)
    pipe = stages.add_parser(
        "pipeline",
        help="tokenizer -> teacher -> KD and SFT students -> evaluation -> report, on any dataset",
        description=f"Everything from a dataset folder to the report. The MovieLens demo: {REPRODUCE}",
    )
    pipe.add_argument("--report-dir", type=Path, default=None, help="also write training-<config>.{md,json,png} here")
    pipe.add_argument("--note", default=None, help="a sentence appended to the report (e.g. machine load)")
    pipe.add_argument("--ship", type=Path, default=None, help="copy the KD student here afterwards")
    add_run_arguments(pipe, run_pipeline)
    ship = stages.add_parser("ship", help="copy a run's KD student to a folder with a model card")
    ship.add_argument("--out", type=Path, required=True, help="the pipeline run directory")
    ship.add_argument("--to", type=Path, default=Path("models/default"), help="target folder (replaced)")
    ship.add_argument("--stage", default="student-kd", help="which stage's model to ship")
    ship.set_defaults(handler=user_errors(run_ship))
    req = stages.add_parser(
        "request",
        help="print a POST /rank JSON body for a real member of a dataset (as a client renders it)",
        description="History and profile as of the member's test period, rendered as in training; candidates are "
        "the member's own test-period items, their labels in metadata.",
    )
    req.add_argument("--data", type=Path, required=True, help="dataset folder")
    req.add_argument("--member", "--user", dest="member", required=True, help="member_id (e.g. 414 in MovieLens)")
    req.add_argument("--task", default=None, help="task name (default: the dataset's first)")
    req.add_argument("--num-candidates", type=int, default=10, help="how many candidates")
    req.add_argument("--max-history", type=int, default=50, help="most recent history entries to send")
    req.set_defaults(handler=user_errors(run_request))
    return pipe


def pipeline(args: argparse.Namespace) -> Pipeline:
    """The Pipeline of the arguments: config + overrides + inits + seed, torch threads set."""
    import torch

    from training.recipes.config_loader import load_config
    from training.recipes.pipeline import Pipeline

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_num_threads(args.threads)
    overrides = list(args.overrides)
    if args.teacher_init is not None:
        overrides.append(f"init.teacher={_toml_string(args.teacher_init)}")
    if args.student_init is not None:
        overrides.append(f"init.student={_toml_string(args.student_init)}")
    if args.seed is not None:
        overrides.append(f"seed={args.seed}")
    if args.device is not None:
        overrides.append(f"device={_toml_string(args.device)}")
    config = load_config(args.config, overrides)
    return Pipeline(config, args.out or Path("runs") / config.name, args.data)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_tokenizer(args: argparse.Namespace) -> int:
    p = pipeline(args)
    p.stage("tokenizer", p.prepare_tokenizer)
    return 0


def run_teacher(args: argparse.Namespace) -> int:
    from training.recipes.pipeline import TEACHER

    p = pipeline(args)
    p.stage("tokenizer", p.prepare_tokenizer)
    p.train_stage(TEACHER)
    return 0


def run_teacher_scores(args: argparse.Namespace) -> int:
    p = pipeline(args)
    if not (p.out / "teacher" / "done.json").exists():
        print("error: teacher scores need a finished teacher; run `slmrank train teacher` first", file=sys.stderr)
        return 2
    p.stage("teacher-scores", p.write_teacher_scores)
    return 0


def run_student(args: argparse.Namespace) -> int:
    from training.recipes.pipeline import STUDENTS

    p = pipeline(args)
    p.stage("tokenizer", p.prepare_tokenizer)
    live_kd = args.objective == "kd" and not p.config.teacher_scores.path
    needs_teacher = live_kd or p.config.init.student == "prune-teacher"
    if needs_teacher and not (p.out / "teacher" / "done.json").exists():
        print("error: this student needs a finished teacher; run `slmrank train teacher` first", file=sys.stderr)
        return 2
    p.train_stage(next(s for s in STUDENTS if s.objective == args.objective))
    return 0


def run_pipeline(args: argparse.Namespace) -> int:
    from training.evaluation.report import write_report
    from training.shipper import ship

    p = pipeline(args)
    summary = p.run()
    if not p.parallel.is_main:
        return 0
    stem = f"training-{p.config.name}"
    paths = write_report(summary, p.timings(), p.tasks, p.out / "report", stem, args.note)
    if args.report_dir is not None:
        paths = write_report(summary, p.timings(), p.tasks, args.report_dir, stem, args.note)
    print(paths[0].read_text())
    if args.ship is not None:
        print(f"shipped to {ship(p.out / 'student-kd' / 'model', args.ship, REPRODUCE)}")
    return 0


def run_ship(args: argparse.Namespace) -> int:
    from training.shipper import ship

    print(f"shipped to {ship(args.out / args.stage / 'model', args.to, REPRODUCE)}")
    return 0


def run_request(args: argparse.Namespace) -> int:
    import json

    from training.data.dataset_reader import load_dataset
    from training.data.request_builder import rank_request
    from training.data.split import ChronologicalSplit

    data = load_dataset(args.data)
    task = args.task or data.spec.tasks[0].name
    data.spec.task(task)
    body = rank_request(ChronologicalSplit(data), args.member, task, args.num_candidates, args.max_history)
    print(json.dumps(body, indent=1))
    return 0
