"""LoRA students (optional extra `slmrank[lora]`, peft): low-rank adapters on the attention and MLP projections,
trained while the base weights stay frozen, then merged into a plain HF checkpoint every engine serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from training.setup_error import SetupError

ALL_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LoraStudentConfig:
    """`rank` 0: a full fine-tune (the default); else LoRA of that rank on `target_modules`."""

    rank: int = 0
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ALL_PROJECTIONS

    @property
    def is_enabled(self) -> bool:
        return self.rank > 0


def add_lora(model: nn.Module, config: LoraStudentConfig) -> Any:
    """Inject LoRA adapters into `model` in place (its base weights frozen); returns the peft handle for merging."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError:
        raise SetupError("LoRA students need peft: pip install 'slmrank[lora]' (or set lora.rank=0)") from None
    peft_config = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
        bias="none",
    )
    # get_peft_model mutates `model` (adapters injected, base frozen); training goes through `model` itself.
    return get_peft_model(model, peft_config)


def merge_lora(handle: Any) -> Any:
    """Fold the adapters into the base weights: a plain model with the original module types and keys."""
    return handle.merge_and_unload()


def num_trainable(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
