"""The offline pipeline on any dataset: tokenizer -> teacher -> KD and SFT students -> evaluation.

Each stage writes into its own folder under the run directory and a `done.json` when finished, so a re-run
skips finished stages and an interrupted training stage resumes from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ranking.card import ModelCard
from ranking.input_contract import InputContract
from training.checkpoint_writer import MANIFEST_FILE, load_model, save_checkpoint, write_json
from training.data.dataset_reader import load_dataset
from training.data.example_builder import ExampleBuilder
from training.data.label_rates import contract_text, with_label_rates
from training.data.similar_rates import contract_text as similar_contract_text
from training.data.similar_rates import with_similar_rates
from training.data.split import ChronologicalSplit
from training.distributed import DistributedContext
from training.evaluation.evaluation_table import evaluate_table
from training.lora import add_lora, merge_lora, num_trainable
from training.model_factory import build_model, num_parameters
from training.objectives.fused_loss_factory import check_fused_loss
from training.objectives.objective_factory import build_objective
from training.optimizer_factory import check_optimizer
from training.precision import resolve_device
from training.prefix_schedule import check_prefix_schedule
from training.recipes.model_init import check_labels, check_same_vocabulary, load_init_checkpoint, prune_teacher
from training.recipes.pipeline_config import PipelineConfig
from training.recipes.validation import val_member_auc
from training.teacher_scores import TeacherScores, write_teacher_scores
from training.tokenizer_trainer import train_tokenizer
from training.trainer import TrainConfig, Trainer

DONE_FILE = "done.json"
CONFIG_FILE = "pipeline_config.json"


@dataclass(frozen=True)
class ModelStage:
    """One trained model of the pipeline: its folder name, whether it is the teacher, its objective."""

    name: str
    is_teacher: bool
    objective: str  # "sft" | "kd"


TEACHER = ModelStage("teacher", True, "sft")
# KD first: it is the one shipped, so it is ready as early as possible.
STUDENTS = (ModelStage("student-kd", False, "kd"), ModelStage("student-sft", False, "sft"))
STAGES = ("tokenizer", TEACHER.name, *(s.name for s in STUDENTS), "evaluate")


class Pipeline:
    """Runs the stages of one PipelineConfig on the dataset in `data_dir` into `out_dir`."""

    def __init__(self, config: PipelineConfig, out_dir: str | Path, data_dir: str | Path) -> None:
        self.config = config
        self.out = Path(out_dir)
        # Under torchrun every rank runs the pipeline; rank 0 alone writes files and evaluates.
        self.parallel = DistributedContext.from_env()
        self.device = resolve_device(config.device, self.parallel.local_rank)
        for section, train in config.train_configs.items():  # refused before any stage runs
            check_fused_loss(train.fused_loss, self.device, self.parallel.is_distributed)
            check_optimizer(train.optimizer, self.parallel.is_distributed)
            check_prefix_schedule(train, config.prompt, section)
        self.parallel.init(self.device)
        self.data = load_dataset(data_dir)
        if config.max_members:
            self.data = self.data.subset(list(self.data.member_events)[: config.max_members])
        self.tasks = list(config.tasks) or [t.name for t in self.data.spec.tasks]
        for task in self.tasks:
            self.data.spec.task(task)  # KeyError names the dataset's tasks
        self.split = ChronologicalSplit(self.data, config.split)
        self._examples: ExampleBuilder | None = None

    def run(self) -> dict[str, Any]:
        """All stages; returns the evaluation summary (also written to evaluate/evaluation.json)."""
        if self.parallel.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
            write_json(
                self.out / CONFIG_FILE, {**self.config.to_dict(), "tasks": self.tasks, "dataset": self.data.spec.name}
            )
        self.stage("tokenizer", self.prepare_tokenizer)
        for model_stage in (TEACHER, *STUDENTS):
            self.train_stage(model_stage)
        self.stage("evaluate", self.evaluate)
        return json.loads((self.out / "evaluate" / "evaluation.json").read_text())

    def stage(self, name: str, fn: Callable[[Path], None], all_ranks: bool = False) -> None:
        """Run `fn(stage_dir)` unless the stage is done (on rank 0, or on every rank); record its wall time."""
        stage_dir = self.out / name
        if (stage_dir / DONE_FILE).exists():
            if self.parallel.is_main:
                print(f"[{name}] done, skipping")
            return
        is_main = self.parallel.is_main
        if is_main:
            stage_dir.mkdir(parents=True, exist_ok=True)
        self.parallel.barrier()
        started = time.perf_counter()
        if all_ranks or is_main:
            fn(stage_dir)
        if is_main:
            write_json(stage_dir / DONE_FILE, {"wall_seconds": round(time.perf_counter() - started, 1)})
        self.parallel.barrier()

    def train_stage(self, model_stage: ModelStage) -> None:
        """A model's training: every rank trains (data parallel), rank 0 writes the checkpoint."""
        self.stage(model_stage.name, lambda d: self.train_model(d, model_stage), all_ranks=True)

    def timings(self) -> dict[str, float]:
        """Wall seconds of every finished stage (of the run that finished it), in pipeline order."""
        out = {}
        for name in STAGES:
            path = self.out / name / DONE_FILE
            if path.exists():
                out[name] = json.loads(path.read_text())["wall_seconds"]
        return out

    def prepare_tokenizer(self, stage_dir: Path) -> None:
        """An init checkpoint's own tokenizer (teacher's first), else a BPE trained on the train period."""
        source = self.config.init.teacher or self.config.init.student_checkpoint
        if source:
            role = "teacher" if self.config.init.teacher else "student"
            _, tokenizer = load_init_checkpoint(source, role)
            tokenizer.save_pretrained(str(stage_dir))
            write_json(stage_dir / "source.json", {"from_checkpoint": source})
        else:
            tokenizer = train_tokenizer(
                self.split,
                self.config.tokenizer,
                stage_dir,
                self.config.prompt.label_rates,
                self.config.prompt.similar_rates,
            )
        check_labels(tokenizer, self.data.spec.tasks, len(tokenizer), f"tokenizer of {source or 'the run'}")

    def tokenizer(self) -> Any:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(self.out / "tokenizer"), local_files_only=True)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        return tokenizer

    def examples(self) -> ExampleBuilder:
        """The ExampleBuilder over the run's tokenizer (built once)."""
        if self._examples is None:
            cfg = self.config
            self._examples = ExampleBuilder(self.split, self.tokenizer(), cfg.prompt, self.tasks, cfg.group_size)
        return self._examples

    def initial_model(self, model_stage: ModelStage) -> tuple[Any, dict[str, Any]]:
        """The model a stage starts from and how it was made (for the manifest)."""
        cfg, tokenizer = self.config, self.examples().builder.tokenizer
        path = cfg.init.teacher if model_stage.is_teacher else cfg.init.student_checkpoint
        if path:
            model, own_tokenizer = load_init_checkpoint(path, "teacher" if model_stage.is_teacher else "student")
            check_same_vocabulary(tokenizer, own_tokenizer)
            return model, {"from": "checkpoint", "path": path}
        if not model_stage.is_teacher and cfg.init.student == "prune-teacher":
            teacher = load_model(self.out / TEACHER.name / "model")[0]
            model, report = prune_teacher(teacher, self.examples(), cfg.prune, cfg.seed)
            return model, {"from": "prune-teacher", "prune": cfg.prune.__dict__, "layers": len(report["layers"])}
        shape = cfg.teacher if model_stage.is_teacher else cfg.student
        return build_model(shape, tokenizer, cfg.seed), {"from": "scratch", "model_config": shape.to_dict()}

    def train_model(self, stage_dir: Path, model_stage: ModelStage) -> None:
        """Train one model into stage_dir/model; with val checks on, the best checkpoint by val is kept."""
        cfg, examples = self.config, self.examples()
        tokenizer: Any = examples.builder.tokenizer
        model, init = self.initial_model(model_stage)
        tasks = tuple(self.data.spec.task(t) for t in self.tasks)
        labels = check_labels(tokenizer, tasks, model.get_output_embeddings().weight.shape[0], model_stage.name)
        train_cfg = self.train_config(model_stage)
        scores = self.teacher_scores(train_cfg) if model_stage.objective == "kd" else None
        is_live_kd = model_stage.objective == "kd" and scores is None
        teacher = load_model(self.out / TEACHER.name / "model")[0] if is_live_kd else None
        weight = cfg.teacher_sequence_weight if model_stage.is_teacher else cfg.distill.sequence_weight
        loss = build_objective(model_stage.objective, cfg.distill, weight)
        validator = val_member_auc(self.split, tokenizer, cfg.prompt, self.tasks, labels, cfg.val)
        lora = add_lora(model, cfg.lora) if cfg.lora.is_enabled and not model_stage.is_teacher else None
        trainer = Trainer(
            model, examples, labels, tokenizer.pad_token_id, train_cfg, stage_dir, loss, teacher,
            validator=validator, validate_every=cfg.val.every, device=self.device, parallel=self.parallel,
            teacher_scores=scores,
        )  # fmt: skip
        seconds = trainer.run(description=model_stage.name)
        trainable = num_trainable(model)
        model = merge_lora(lora) if lora is not None else model
        name = f"{self.data.spec.name}-{cfg.name}-{model_stage.name}"
        manifest = {
            "model_name": name,
            "stage": model_stage.name,
            "data": {
                "dataset": self.data.spec.name,
                "licence": self.data.spec.licence,
                "sha256": self.data.checksums,
                "num_interactions": self.data.num_interactions,
            },
            "split": cfg.split.__dict__,
            "init": init,
            "model_config": model.config.to_dict(),
            "num_parameters": num_parameters(model),
            "train_config": train_cfg.to_dict(),
            "objective": type(loss).__name__,
            "distill": cfg.distill.__dict__ if model_stage.objective == "kd" else None,
            "best_val": trainer.best(),
            "seed": cfg.seed,
            "train_seconds": round(seconds, 1),
            "teacher_forward_seconds": round(trainer.teacher_seconds, 1) if teacher is not None else None,
            "teacher_scores": cfg.teacher_scores.path if scores is not None else None,
            "lora": {**cfg.lora.__dict__, "trainable_parameters": trainable} if lora is not None else None,
            "world_size": self.parallel.world_size,
            "device": str(self.device),
            "metrics": None,
        }
        card = ModelCard(name, tasks, cfg.prompt, self.input_contract())
        if self.parallel.is_main:
            save_checkpoint(model.to("cpu"), tokenizer, stage_dir / "model", card, manifest)

    def input_contract(self) -> InputContract:
        """The dataset's contract, plus how to compute label (and similar-items) rates when the model shows them."""
        contract = self.data.spec.input_contract
        if not self.config.prompt.label_rates:
            return contract
        rates = self.examples().rates  # the ones the run's prompts were built with, computed once
        assert rates is not None  # the builder has them whenever prompt.label_rates is on
        prior = rates.prior
        contract = dataclasses.replace(
            contract, label_rates=contract_text(prior), example=with_label_rates(contract.example, prior)
        )
        if not self.config.prompt.similar_rates:
            return contract
        return dataclasses.replace(
            contract, similar_rates=similar_contract_text(), example=with_similar_rates(contract.example)
        )

    def train_config(self, model_stage: ModelStage) -> TrainConfig:
        if model_stage.is_teacher:
            return self.config.teacher_train
        return self.config.student_train if model_stage.objective == "kd" else self.config.sft_config

    def scores_fingerprint(self) -> dict[str, Any]:
        """What besides the TrainConfig a student's batches depend on (checked when scores are read)."""
        cfg = self.config
        extra = {
            "dataset": self.data.spec.name,
            "tasks": self.tasks,
            "group_size": cfg.group_size,
            "max_members": cfg.max_members,
            "prompt": cfg.prompt.__dict__,
            "tokenizer": cfg.tokenizer.__dict__,
        }
        return typing.cast(dict[str, Any], json.loads(json.dumps(extra)))

    def teacher_scores(self, train_cfg: TrainConfig) -> TeacherScores | None:
        """The offline teacher scores the KD student reads (`teacher_scores.path`), or None: teacher on the fly."""
        path = self.config.teacher_scores.path
        return TeacherScores(path, train_cfg, self.scores_fingerprint()) if path else None

    def write_teacher_scores(self, stage_dir: Path) -> None:
        """The teacher's log-probs for every step of the student schedule (`slmrank train teacher-scores`)."""
        cfg, examples = self.config, self.examples()
        tokenizer: Any = examples.builder.tokenizer
        teacher = load_model(self.out / TEACHER.name / "model")[0].to(self.device)
        tasks = tuple(self.data.spec.task(t) for t in self.tasks)
        labels = check_labels(tokenizer, tasks, teacher.get_output_embeddings().weight.shape[0], "teacher")
        write_teacher_scores(teacher, examples, labels, tokenizer.pad_token_id, cfg.student_train,
                             cfg.teacher_scores, stage_dir, self.scores_fingerprint())  # fmt: skip

    def evaluate(self, stage_dir: Path) -> None:
        """Test-period metrics of the baselines and every trained model; fills each model's manifest metrics."""
        models = {s.name: self.out / s.name / "model" for s in (TEACHER, *STUDENTS)}
        table = evaluate_table(self.split, models, self.tasks, stage_dir, "test", self.config.eval_groups_per_batch)
        summary = {
            "config": self.config.name,
            "dataset": self.data.spec.name,
            "licence": self.data.spec.licence,
            "is_plumbing_check": self.config.is_plumbing_check,
            "metric": "global ROC AUC on the test period, mean over tasks",
            **table,
        }
        write_json(stage_dir / "evaluation.json", summary)
        for name, path in models.items():
            manifest = json.loads((path / MANIFEST_FILE).read_text())
            manifest["metrics"] = summary["models"][name]
            write_json(path / MANIFEST_FILE, manifest)
