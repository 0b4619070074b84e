"""Every compression stage's folder name, built in one place: compress_tables.py plans stages under these names
and compress_report.py looks them up, both from the same config values (a CompressionConfig or its dict)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REFERENCE = "student-kd"
# Recovery training alone moves an under-trained student; this control (no pruning, the same KD steps)
# isolates what pruning cost.
CONTROL = "unpruned-kd"


def pct(fraction: float) -> str:
    """0.3 -> '30'."""
    return str(round(fraction * 100))


@dataclass(frozen=True)
class StageNames:
    """The names of one compression run's stages."""

    recovery_mlp_sparsity: float
    head_sparsity: float
    gradual_steps: int

    @classmethod
    def of(cls, config: Any) -> StageNames:
        """From a CompressionConfig or the config dict a summary carries."""
        values = config if isinstance(config, Mapping) else vars(config)
        return cls(values["recovery_mlp_sparsity"], values["head_sparsity"], values["gradual_steps"])

    @staticmethod
    def oneshot(sparsity: float, recovery: str | None = None) -> str:
        """One-shot MLP pruning at `sparsity`, then `recovery` ('sft', 'kd') or none."""
        return f"oneshot-mlp{pct(sparsity)}" + (f"-{recovery}" if recovery else "")

    def recovered(self, recovery: str | None = None) -> str:
        """One-shot pruning at the recovery sparsity (Tables 1 and 3)."""
        return self.oneshot(self.recovery_mlp_sparsity, recovery)

    def heads(self, recovery: str | None = None) -> str:
        return f"heads{pct(self.head_sparsity)}" + (f"-{recovery}" if recovery else "")

    @property
    def gradual(self) -> str:
        return f"gradual{self.gradual_steps}-mlp{pct(self.recovery_mlp_sparsity)}-kd"

    @staticmethod
    def quant(scheme: str, source: str | None = None) -> str:
        """The student (or `source`, e.g. the gradual stage) quantized with `scheme`."""
        return f"quant-{scheme}" if source is None else f"{source}-{scheme}"

    @staticmethod
    def control(recovery: str) -> str:
        return f"unpruned-{recovery}"

    @staticmethod
    def seed(base: str, offset: int) -> str:
        """The stage that repeats `base` with seed + offset (offset 0 is `base` itself)."""
        return base if offset == 0 else f"{base}-seed{offset}"
