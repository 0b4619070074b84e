"""The pipeline's configuration: nested frozen dataclasses, filled from a TOML preset or file plus `--set` overrides.

Presets (`tiny`, `smoke`, `demo`, `gpu`) are TOML files shipped in training/recipes/configs/; config_loader.py
reads them. Defaults live here, once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ranking.prompt_builder import PromptConfig
from training.data.split import SplitConfig
from training.lora import LoraStudentConfig
from training.model_factory import ModelConfig
from training.objectives.distill_config import DistillConfig
from training.teacher_scores import TeacherScoresConfig
from training.tokenizer_trainer import TokenizerConfig
from training.trainer import TrainConfig

STUDENT_INITS = ("scratch", "prune-teacher")


@dataclass(frozen=True)
class InitConfig:
    """Where models start: `teacher` a local HF checkpoint or "" (from scratch); `student` "scratch",
    "prune-teacher" (OSSCAR on the trained teacher) or a local HF checkpoint directory."""

    teacher: str = ""
    student: str = "scratch"

    @property
    def student_checkpoint(self) -> str:
        """The student's checkpoint directory, or "" when it starts from scratch or from the pruned teacher."""
        return "" if self.student in STUDENT_INITS else self.student


@dataclass(frozen=True)
class PruneInitConfig:
    """The student as the teacher pruned with OSSCAR (fractions of MLP neurons and attention heads removed)."""

    mlp_sparsity: float = 0.5
    head_sparsity: float = 0.5
    num_calibration: int = 64
    neuron_multiple: int = 8
    max_swap_rounds: int = 4


@dataclass(frozen=True)
class ValConfig:
    """Checkpoint selection on the val split: every `every` steps (0: never), on at most `max_members` members."""

    every: int = 0
    max_members: int = 200
    groups_per_batch: int = 4


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the pipeline needs from a dataset folder to the report."""

    name: str
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    teacher: ModelConfig = field(default_factory=ModelConfig)
    student: ModelConfig = field(default_factory=ModelConfig)
    teacher_train: TrainConfig = field(default_factory=TrainConfig)
    student_train: TrainConfig = field(default_factory=TrainConfig)
    # The SFT student's schedule; None: student_train's. In a config file `[sft_train]` starts from
    # `[student_train]` and changes only the keys it sets (config_loader.py).
    sft_train: TrainConfig | None = None
    split: SplitConfig = field(default_factory=SplitConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    init: InitConfig = field(default_factory=InitConfig)
    prune: PruneInitConfig = field(default_factory=PruneInitConfig)
    val: ValConfig = field(default_factory=ValConfig)
    teacher_scores: TeacherScoresConfig = field(default_factory=TeacherScoresConfig)
    # LoRA students (rank > 0; the teacher is always fully trained), merged into plain checkpoints at the end.
    lora: LoraStudentConfig = field(default_factory=LoraStudentConfig)
    # Empty: every task the dataset declares.
    tasks: tuple[str, ...] = ()
    group_size: int = 8
    # Next-token weight of the teacher and the SFT student (the SFT student mirrors the KD sequence weight).
    teacher_sequence_weight: float = 0.05
    # 0: every member; else the first N members in file order (smoke runs).
    max_members: int = 0
    eval_groups_per_batch: int = 4
    seed: int = 0
    # auto | cpu | cuda (`--device`); under torchrun each process takes the CUDA device of its LOCAL_RANK.
    device: str = "auto"
    # A smoke-sized preset is a plumbing check: its report says so and judges no goal.
    is_plumbing_check: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def train_configs(self) -> dict[str, TrainConfig]:
        """Every stage's TrainConfig by its section: the teacher's, the KD student's and the SFT student's."""
        return {"teacher_train": self.teacher_train, "student_train": self.student_train, "sft_train": self.sft_config}

    @property
    def sft_config(self) -> TrainConfig:
        """The SFT student's TrainConfig (student_train's unless sft_train is set)."""
        return self.sft_train or self.student_train
