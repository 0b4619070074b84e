"""A stage's optimiser from its name: `adamw` (torch, float32 state) or `adamw8bit` (torchao, blockwise 8-bit state).

`adamw8bit` is torchao's `AdamW8bit` (the optional extra `pip install 'slmrank[optim8bit]'`): both moments of
every parameter with at least 4,096 values (and a multiple of its 256-value block) are kept as 8-bit codes with one
float32 scale per block, ≈ 2.03 bytes per value instead of 8; smaller tensors keep float32 moments, as in
bitsandbytes. Its step is a `torch.compile`d function (one compile per parameter shape on first use), and it runs on
the CPU and on CUDA. One process only: under torchrun (FSDP2) it is refused, because that combination is not tested.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterable

import torch

from training.setup_error import SetupError

OPTIMIZERS = ("adamw", "adamw8bit")
BETAS = (0.9, 0.98)


def check_optimizer(name: str, distributed: bool = False) -> None:
    """Refuse an unknown name, or `adamw8bit` under torchrun or without the optional extra (one line)."""
    if name not in OPTIMIZERS:
        raise SetupError(f"optimizer {name!r}: expected one of {OPTIMIZERS}")
    if name == "adamw8bit" and distributed:
        raise SetupError("optimizer='adamw8bit' runs in one process only; use adamw under torchrun")
    if name == "adamw8bit" and importlib.util.find_spec("torchao") is None:
        raise SetupError("optimizer='adamw8bit' needs the optional extra: pip install 'slmrank[optim8bit]'")


def build_optimizer(
    name: str, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float, distributed: bool = False
) -> torch.optim.Optimizer:
    """AdamW with the trainer's betas, its state in float32 (`adamw`) or blockwise 8-bit (`adamw8bit`)."""
    check_optimizer(name, distributed)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=BETAS)
    # torchao logs a warning per CUDA/CUTLASS extension it cannot load on this machine; none is used here.
    logging.getLogger("torchao").setLevel(logging.ERROR)
    from torchao.optim import AdamW8bit

    return AdamW8bit(params, lr=lr, weight_decay=weight_decay, betas=BETAS)


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes the optimiser's state tensors hold (8-bit codes and their scales counted as stored)."""
    total = 0
    for state in optimizer.state.values():
        for value in state.values():
            if isinstance(value, torch.Tensor):
                total += _stored_bytes(value)
    return total


def _stored_bytes(tensor: torch.Tensor) -> int:
    """A plain tensor's bytes, or the sum over a tensor subclass's inner tensors (torchao's codes + scales)."""
    flatten = getattr(tensor, "__tensor_flatten__", None)
    if flatten is None or type(tensor) is torch.Tensor:
        return tensor.numel() * tensor.element_size()
    names, _ = flatten()
    return sum(_stored_bytes(getattr(tensor, name)) for name in names)
