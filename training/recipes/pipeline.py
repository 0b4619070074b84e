"""The whole offline pipeline: raw ratings -> tokenizer -> teacher -> SFT and KD students -> evaluation -> report.

Each stage writes into its own folder under the run directory and a `done.json` when finished, so a re-run
skips finished stages and an interrupted training stage resumes from its last checkpoint.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from training.checkpoint_writer import MANIFEST_FILE, load_model, save_checkpoint, write_json
from training.data.example_builder import ExampleBuilder
from training.data.movielens import MovieLens
from training.data.split import ChronologicalSplit
from training.recipes.pipeline_config import PipelineConfig

DONE_FILE = "done.json"
# KD first: it is the one shipped, so it is ready as early as possible.
STUDENTS = ("student-kd", "student-sft")
STAGES = ("tokenizer", "teacher", *STUDENTS, "evaluate")


class Pipeline:
    """Runs the stages of one PipelineConfig into `out_dir`."""

    def __init__(self, config: PipelineConfig, out_dir: str | Path, data_dir: str | Path) -> None:
        self.config = config
        self.out = Path(out_dir)
        self.data = MovieLens.load(data_dir)
        if config.max_users is not None:
            self.data = self.data.subset(sorted(self.data.user_ratings)[: config.max_users])
        self.split = ChronologicalSplit(self.data, config.split)
        self._examples: ExampleBuilder | None = None

    def run(self) -> dict[str, Any]:
        """All stages; returns the evaluation summary (also written to evaluation.json)."""
        self.out.mkdir(parents=True, exist_ok=True)
        write_json(self.out / "pipeline_config.json", self.config.to_dict())
        self.stage("tokenizer", self.train_tokenizer)
        self.stage("teacher", lambda d: self.train_model(d, "teacher"))
        for name in STUDENTS:
            self.stage(name, lambda d, name=name: self.train_model(d, name))
        self.stage("evaluate", self.evaluate)
        return json.loads((self.out / "evaluate" / "evaluation.json").read_text())

    def stage(self, name: str, fn) -> None:
        """Run `fn(stage_dir)` unless the stage is done; record its wall time."""
        stage_dir = self.out / name
        if (stage_dir / DONE_FILE).exists():
            print(f"[{name}] done, skipping")
            return
        stage_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        fn(stage_dir)
        write_json(stage_dir / DONE_FILE, {"wall_seconds": round(time.perf_counter() - started, 1)})

    def timings(self) -> dict[str, float]:
        """Wall seconds of every finished stage (of the run that finished it), in pipeline order."""
        out = {}
        for name in STAGES:
            path = self.out / name / DONE_FILE
            if path.exists():
                out[name] = json.loads(path.read_text())["wall_seconds"]
        return out

    def train_tokenizer(self, stage_dir: Path) -> None:
        from training.tokenizer_trainer import train_tokenizer

        train_tokenizer(self.split, self.config.tokenizer, stage_dir)

    def examples(self):
        """The ExampleBuilder over the trained tokenizer (built once)."""
        if self._examples is None:
            from transformers import AutoTokenizer

            from training.data.example_builder import ExampleBuilder

            tokenizer = AutoTokenizer.from_pretrained(str(self.out / "tokenizer"), local_files_only=True)
            cfg = self.config
            self._examples = ExampleBuilder(self.split, tokenizer, cfg.prompt, cfg.tasks, cfg.group_size)
        return self._examples

    def train_model(self, stage_dir: Path, role: str) -> None:
        """Train the teacher or a student into stage_dir/model."""
        from ranking.card import ModelCard
        from ranking.labels import resolve_all
        from training.data.member_builder import MOVIELENS_INPUT
        from training.data.movielens_tasks import movielens_task
        from training.model_factory import build_model, num_parameters
        from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
        from training.trainer import Trainer

        cfg = self.config
        examples = self.examples()
        tokenizer = examples.builder.tokenizer
        shape = cfg.teacher if role == "teacher" else cfg.student
        train_cfg = cfg.teacher_train if role == "teacher" else cfg.student_train
        model = build_model(shape, tokenizer, cfg.seed)
        teacher = None
        if role == "student-kd":
            d = cfg.distill
            teacher = load_model(self.out / "teacher" / "model")[0]
            loss: Any = RecSysDistillationLoss(
                d.label_kd_weight, d.label_ce_weight, d.sequence_weight, d.divergence, d.beta, d.temperature
            )
        else:
            weight = cfg.teacher_sequence_weight if role == "teacher" else cfg.distill.sequence_weight
            loss = SupervisedRankingLoss(weight)
        tasks = tuple(movielens_task(t).task for t in cfg.tasks)
        labels = resolve_all(tokenizer, tasks, len(tokenizer))
        trainer = Trainer(model, examples, labels, tokenizer.pad_token_id, train_cfg, stage_dir, loss, teacher)
        seconds = trainer.run(description=role)
        model_name = f"movielens-{cfg.name}-{role}"
        manifest = {
            "model_name": f"movielens-{cfg.name}-{role}",
            "role": role,
            "data": {
                "dataset": "MovieLens ml-latest-small (GroupLens; Harper & Konstan 2015)",
                "sha256": self.data.checksums,
                "num_ratings": self.data.num_ratings,
            },
            "split": cfg.split.__dict__,
            "model_config": shape.to_dict(),
            "num_parameters": num_parameters(model),
            "train_config": train_cfg.to_dict(),
            "objective": type(loss).__name__,
            "distill": cfg.distill.__dict__ if role == "student-kd" else None,
            "seed": cfg.seed,
            "train_seconds": round(seconds, 1),
            "teacher_forward_seconds": round(trainer.teacher_seconds, 1) if teacher is not None else None,
            "metrics": None,
        }
        card = ModelCard(model_name, tasks, cfg.prompt, MOVIELENS_INPUT)
        save_checkpoint(model, tokenizer, stage_dir / "model", card, manifest)

    def evaluate(self, stage_dir: Path) -> None:
        """Test-period AUCs of the baselines and every trained model; fills each model's manifest metrics."""
        from training.evaluation.evaluation_run import evaluate_run

        summary = evaluate_run(self, stage_dir)
        for role in ("teacher", *STUDENTS):
            path = self.out / role / "model" / MANIFEST_FILE
            manifest = json.loads(path.read_text())
            manifest["metrics"] = summary["models"][role]
            write_json(path, manifest)
