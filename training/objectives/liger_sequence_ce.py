"""The supervised sequence term through Liger-Kernel's fused linear + cross-entropy (`fused_loss = "liger"`, CUDA).

What it replaces: `SupervisedRankingLoss`'s sequence term (the teacher's and the SFT student's), the mean over the M
sampled rows of CE(lm_head(hidden_m), next token_m) (`chunked_sequence.py: cross_entropy_chunks` is its plain
reference). Liger's `LigerFusedLinearCrossEntropyLoss(reduction="mean")` takes the (M, H) hidden rows, the head
weight and the (M,) targets, and never builds the (M, V) logits at once. The mapping (liger-kernel 0.8.5): no
label smoothing, no z-loss, no soft-capping, no class weights, `ignore_index = -100` (no target is ever -100, so
the mean is over all M rows, as `F.cross_entropy`'s), logits in float32.
"""

from __future__ import annotations

from typing import Any

import torch


class LigerSequenceCrossEntropy:
    """mean_m CE(student_head(s_m), target_m) over hidden rows, by Liger's fused kernel."""

    def __init__(self) -> None:
        self._kernel: Any = None

    def kernel(self) -> Any:
        """Liger's module, imported on first use (importing it imports Triton)."""
        if self._kernel is None:
            from liger_kernel.transformers import LigerFusedLinearCrossEntropyLoss

            self._kernel = LigerFusedLinearCrossEntropyLoss(reduction="mean")
        return self._kernel

    def __call__(
        self,
        student_hidden: torch.Tensor,
        student_weight: torch.Tensor,
        targets: torch.Tensor | None,
        teacher_hidden: torch.Tensor | None = None,
        teacher_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Scalar float32 mean CE over the (M, H) rows (the teacher arguments unused); 0 when there are none."""
        assert targets is not None, "the CE term needs the next-token targets"
        if student_hidden.shape[0] == 0:
            return student_hidden.sum().float() * 0.0
        return self.kernel()(student_weight, student_hidden.contiguous(), targets).float()
