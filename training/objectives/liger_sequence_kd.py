"""The KD sequence term through Liger-Kernel's fused linear + JSD kernel (`fused_loss = "liger"`, CUDA only).

What it replaces: `RecSysDistillationLoss`'s sequence term, `mean over the M sampled rows of D(teacher, student)`
with the student's and the teacher's LM heads applied to their (M, H) hidden rows (`chunked_sequence.py` computes
the same term R rows at a time in plain PyTorch; that path is this one's reference). Liger's
`LigerFusedLinearJSD(jsd_beta, ignore_index, temperature)` takes both hidden rows and both head weights, never
builds the (M, V) logits at once and computes the student's gradients in its forward pass.

The mapping, read from liger-kernel 0.8.5 (`ops/fused_linear_jsd.py`, `ops/jsd.py`), so both compute one objective:

| plain (`distillation_losses.py`) | Liger |
|---|---|
| logits / T, log-softmax in float32, no T² factor | logits projected to float32, / `temperature`, log-softmax, no T² |
| `forward_kl`: KL(teacher ‖ student) | `jsd_beta = 0` ("forward KL": Σ p_T (log p_T − log p_S)) |
| `reverse_kl`: KL(student ‖ teacher) | `jsd_beta = 1` (Σ p_S (log p_S − log p_T)) |
| `jsd`, β: β·KL(T‖M) + (1−β)·KL(S‖M), M = β·p_T + (1−β)·p_S | `jsd_beta = β`: the same M and weights (P = T, Q = S) |
| mean over the M rows | `shift_labels = None`: the sum over rows divided by BT = M |

The label term (a few rows per group: 0.9·D + 0.1·CE at the label positions) stays in plain PyTorch.
"""

from __future__ import annotations

from typing import Any

import torch

from training.objectives.distillation_losses import DistillationLoss, ForwardKLLoss, JSDLoss, ReverseKLLoss
from training.setup_error import SetupError


def liger_beta(divergence: DistillationLoss) -> float:
    """Liger's `jsd_beta` for one of the project's divergences (the table above)."""
    if isinstance(divergence, ForwardKLLoss):
        return 0.0
    if isinstance(divergence, ReverseKLLoss):
        return 1.0
    if isinstance(divergence, JSDLoss):
        return divergence.beta
    raise SetupError(f"fused_loss='liger': no Liger equivalent of {type(divergence).__name__}")


class LigerSequenceDivergence:
    """mean_m D(teacher_head(t_m), student_head(s_m)) over hidden rows, by Liger's fused kernel (see the table)."""

    def __init__(self, divergence: DistillationLoss) -> None:
        self.beta = liger_beta(divergence)
        self.temperature = divergence.temperature
        self._kernel: Any = None

    def kernel(self) -> Any:
        """Liger's module, imported on first use (importing it imports Triton)."""
        if self._kernel is None:
            from liger_kernel.transformers import LigerFusedLinearJSD

            self._kernel = LigerFusedLinearJSD(jsd_beta=self.beta, temperature=self.temperature)
        return self._kernel

    def __call__(
        self,
        student_hidden: torch.Tensor,
        student_weight: torch.Tensor,
        targets: torch.Tensor | None,
        teacher_hidden: torch.Tensor | None,
        teacher_weight: torch.Tensor | None,
    ) -> torch.Tensor:
        """Scalar float32 mean over the (M, H) rows (`targets` unused); 0 (with a graph) when there are none."""
        assert teacher_hidden is not None and teacher_weight is not None, "the KD term needs the teacher's rows"
        if student_hidden.shape[0] == 0:
            return student_hidden.sum().float() * 0.0
        if student_hidden.shape[0] != teacher_hidden.shape[0]:
            raise ValueError(f"student rows {student_hidden.shape[0]} vs teacher rows {teacher_hidden.shape[0]}")
        teacher_hidden = teacher_hidden.to(student_hidden.dtype).contiguous()
        teacher_weight = teacher_weight.to(student_weight.dtype)
        loss = self.kernel()(student_hidden.contiguous(), student_weight, teacher_hidden, teacher_weight, None)
        return loss.float()
