"""Where and in which number format a training stage runs: the device, bf16 autocast over fp32 master weights, TF32.

`fp32` is the reference; `bf16` runs the forward passes under autocast while parameters, gradients and the
optimiser state stay float32 (mixed precision), and the frozen teacher is cast to bf16 outright (it has no
master weights to keep). Losses always read float32 logits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from training.setup_error import SetupError

DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("fp32", "bf16")


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """`auto`: this process's CUDA device when there is one, else the CPU; `cuda` without CUDA is refused."""
    if name not in DEVICES:
        raise SetupError(f"device {name!r}: expected one of {DEVICES}")
    if name == "cuda" and not torch.cuda.is_available():
        raise SetupError("device 'cuda' asked for but torch sees no CUDA device (use --device cpu or auto)")
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


@dataclass(frozen=True)
class Precision:
    """The compute format of a stage on a device."""

    device: torch.device
    name: str = "fp32"

    def __post_init__(self) -> None:
        if self.name not in PRECISIONS:
            raise SetupError(f"precision {self.name!r}: expected one of {PRECISIONS}")

    @property
    def is_bf16(self) -> bool:
        return self.name == "bf16"

    @property
    def teacher_dtype(self) -> torch.dtype:
        """The frozen teacher's parameter dtype: the compute dtype."""
        return torch.bfloat16 if self.is_bf16 else torch.float32

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast on the device (a no-op in fp32)."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.is_bf16):
            yield

    def enable_tf32(self) -> None:
        """TF32 matmuls on Ampere and later (float32 work that autocast leaves, e.g. the optimiser's)."""
        if self.device.type == "cuda":
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
