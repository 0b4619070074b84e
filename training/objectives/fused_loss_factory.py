"""`fused_loss`: which kernel computes a stage's sequence term, checked up front (one line when it cannot run).

`none`: PyTorch (optionally in row chunks, `sequence_chunk_rows`). `liger`: Liger-Kernel's fused linear + loss
Triton kernels on CUDA: the KD divergence through `LigerFusedLinearJSD` (`liger_sequence_kd.py`), the supervised
next-token CE through `LigerFusedLinearCrossEntropyLoss` (`liger_sequence_ce.py`); the label terms stay in PyTorch.
"""

from __future__ import annotations

import importlib.util

import torch

from training.objectives.liger_sequence_ce import LigerSequenceCrossEntropy
from training.objectives.liger_sequence_kd import LigerSequenceDivergence
from training.objectives.ranking_losses import RecSysDistillationLoss, SupervisedRankingLoss
from training.setup_error import SetupError

FUSED_LOSSES = ("none", "liger")
FusedLoss = LigerSequenceDivergence | LigerSequenceCrossEntropy


def check_fused_loss(name: str, device: torch.device, distributed: bool = False) -> None:
    """Refuse an unknown name, or `liger` off CUDA, under torchrun (not tested there) or without the extra."""
    if name not in FUSED_LOSSES:
        raise SetupError(f"fused_loss {name!r}: expected one of {FUSED_LOSSES}")
    if name == "none":
        return
    if distributed:
        raise SetupError("fused_loss='liger' runs in one process only (not tested under torchrun); set it to none")
    if device.type != "cuda":
        raise SetupError(
            f"fused_loss='liger' needs CUDA (Liger's Triton kernels) but this stage runs on {device.type}; "
            "use sequence_chunk_rows for the same memory saving in plain PyTorch"
        )
    if importlib.util.find_spec("liger_kernel") is None or importlib.util.find_spec("triton") is None:
        raise SetupError("fused_loss='liger' needs the optional extra: pip install 'slmrank[liger]'")


def build_fused_loss(
    name: str,
    loss: RecSysDistillationLoss | SupervisedRankingLoss,
    device: torch.device,
    offline_scores: bool = False,
    on_policy: bool = False,
    distributed: bool = False,
) -> FusedLoss | None:
    """The stage's fused sequence term (None for `none`); what cannot run is refused up front in one line."""
    if name == "liger" and offline_scores:
        raise SetupError("fused_loss='liger' needs the live teacher's hidden rows; it does not read teacher_scores")
    if name == "liger" and on_policy:
        raise SetupError("fused_loss='liger' and on-policy KD do not combine; set on_policy_fraction=0")
    check_fused_loss(name, device, distributed)
    if name == "none":
        return None
    if isinstance(loss, RecSysDistillationLoss):
        return LigerSequenceDivergence(loss.divergence)
    return LigerSequenceCrossEntropy()
