"""Named pipeline configurations: `smoke` (tests/CI, < 2 min), `demo` (2 CPU cores, < 20 min), `gpu` (larger)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ranking.prompt_builder import PromptConfig
from training.data.split import SplitConfig
from training.model_factory import ModelConfig
from training.tokenizer_trainer import TokenizerConfig
from training.trainer import TrainConfig


@dataclass(frozen=True)
class DistillConfig:
    """The KD student's objective: the paper's weights, the divergence and its temperature."""

    label_kd_weight: float = 0.9
    label_ce_weight: float = 0.1
    sequence_weight: float = 0.05
    divergence: str = "forward_kl"
    beta: float = 0.0
    temperature: float = 1.0


@dataclass(frozen=True)
class PipelineConfig:
    """Everything the pipeline needs from raw ratings to the report; one object per named configuration."""

    name: str
    tokenizer: TokenizerConfig
    prompt: PromptConfig
    teacher: ModelConfig
    student: ModelConfig
    teacher_train: TrainConfig
    student_train: TrainConfig
    split: SplitConfig = field(default_factory=SplitConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    tasks: tuple[str, ...] = ("like", "love")
    group_size: int = 8
    # Next-token weight of the teacher and the SFT student (the SFT student mirrors the KD sequence weight).
    teacher_sequence_weight: float = 0.05
    max_users: int | None = None
    eval_groups_per_batch: int = 4
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEMO_PROMPT = PromptConfig(max_prefix_len=256, max_profile_len=48, max_item_len=32, max_candidate_len=40)

SMOKE = PipelineConfig(
    name="smoke",
    tokenizer=TokenizerConfig(vocab_size=1024),
    prompt=PromptConfig(max_prefix_len=128, max_profile_len=48, max_item_len=32, max_candidate_len=40),
    teacher=ModelConfig(
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        intermediate_size=192,
    ),
    student=ModelConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        intermediate_size=96,
    ),
    teacher_train=TrainConfig(steps=12, groups_per_step=4, warmup_steps=2, checkpoint_every=5),
    student_train=TrainConfig(steps=8, groups_per_step=4, warmup_steps=2, checkpoint_every=5),
    max_users=24,
)

DEMO = PipelineConfig(
    name="demo",
    tokenizer=TokenizerConfig(vocab_size=4096),
    prompt=DEMO_PROMPT,
    teacher=ModelConfig(
        hidden_size=192,
        num_hidden_layers=4,
        num_attention_heads=6,
        num_key_value_heads=2,
        head_dim=32,
        intermediate_size=512,
    ),
    student=ModelConfig(
        hidden_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=32,
        intermediate_size=256,
    ),
    # Many small steps: the teacher's label loss only leaves the prior after ~250 updates (measured), so for
    # the same compute twice the updates of half the size beat 400 steps of 8 groups.
    teacher_train=TrainConfig(steps=800, groups_per_step=4, learning_rate=2e-3, warmup_steps=40),
    student_train=TrainConfig(steps=1600, groups_per_step=4, learning_rate=3e-3, warmup_steps=40),
    group_size=12,
)

GPU = PipelineConfig(
    name="gpu",
    tokenizer=TokenizerConfig(vocab_size=8192),
    prompt=PromptConfig(max_prefix_len=1024, max_profile_len=64, max_item_len=40, max_candidate_len=48),
    teacher=ModelConfig(
        hidden_size=768,
        num_hidden_layers=12,
        num_attention_heads=12,
        num_key_value_heads=4,
        head_dim=64,
        intermediate_size=2048,
    ),
    student=ModelConfig(
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=8,
        num_key_value_heads=2,
        head_dim=32,
        intermediate_size=768,
    ),
    teacher_train=TrainConfig(
        steps=6000, groups_per_step=32, learning_rate=6e-4, warmup_steps=300, checkpoint_every=500
    ),
    student_train=TrainConfig(
        steps=6000, groups_per_step=32, learning_rate=1e-3, warmup_steps=300, checkpoint_every=500
    ),
    group_size=16,
)

CONFIGS: dict[str, PipelineConfig] = {c.name: c for c in (SMOKE, DEMO, GPU)}


def get_config(name: str) -> PipelineConfig:
    """A named configuration; KeyError lists the known names."""
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown pipeline config {name!r}; known: {sorted(CONFIGS)}") from None
