"""GPTQ (Frantar et al., 2022): quantize a weight matrix column by column, pushing each column's rounding
error onto the columns not yet quantized through the inverse Gram matrix.

Objective per layer: min over grid-valued Ŵ of ‖X Wᵀ − X Ŵᵀ‖² = tr((W − Ŵ) H (W − Ŵ)ᵀ), H = XᵀX. With the
upper Cholesky factor U of H⁻¹ (H⁻¹ = UᵀU), quantizing column j and updating W[:, j+1:] -= e_j U[j, j+1:]
with e_j = (w_j − q_j)/U_jj is the exact OBS compensation for the columns still free.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class GptqConfig:
    """Grid and solver knobs. group_size None: one scale per output row."""

    num_bits: int = 4
    group_size: int | None = 128
    damp: float = 0.01  # fraction of mean(diag H) added to the diagonal
    block_size: int = 128  # columns per lazy-update block

    def __post_init__(self) -> None:
        if not 2 <= self.num_bits <= 8:
            raise ValueError("GptqConfig.num_bits must be in [2, 8]")
        if self.group_size is not None and self.block_size % self.group_size:
            raise ValueError("GptqConfig.block_size must be a multiple of group_size")


def symmetric_scale(weight: torch.Tensor, num_bits: int) -> torch.Tensor:
    """Per-row symmetric scale [out, 1] mapping max |w| to the grid's largest positive level."""
    qmax = 2 ** (num_bits - 1) - 1
    return (weight.abs().amax(dim=1, keepdim=True) / qmax).clamp_min(1e-12)


def round_to_grid(weight: torch.Tensor, scale: torch.Tensor, num_bits: int) -> torch.Tensor:
    """Signed integer levels round(w / scale) clamped to [-2^(b-1), 2^(b-1) - 1] (float tensor)."""
    qmax = 2 ** (num_bits - 1) - 1
    return torch.round(weight / scale).clamp(-qmax - 1, qmax)


def gptq_quantize(weight: torch.Tensor, gram: torch.Tensor, config: GptqConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """weight [out, in], gram [in, in] -> (int8 levels [out, in], scales [out, groups] float32)."""
    w = weight.detach().double().cpu().clone()
    h = gram.detach().double().cpu().clone()
    num_in = w.shape[1]
    group = config.group_size or num_in
    if num_in % group:
        raise ValueError(f"in_features {num_in} is not a multiple of group_size {group}")
    dead = h.diagonal() == 0
    h[dead, dead] = 1.0  # inputs never seen: any value is free, keep the solve well posed
    w[:, dead] = 0.0
    h += config.damp * float(h.diagonal().mean()) * torch.eye(num_in, dtype=torch.float64)
    upper = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    levels = torch.zeros_like(w)
    scales = torch.zeros(w.shape[0], num_in // group, dtype=torch.float64)
    if config.group_size is None:
        scales[:, 0] = symmetric_scale(w, config.num_bits)[:, 0]  # per row: fixed before any update
    for start in range(0, num_in, config.block_size):
        end = min(start + config.block_size, num_in)
        block = w[:, start:end].clone()
        errors = torch.zeros_like(block)
        u = upper[start:end, start:end]
        for i in range(end - start):
            col = start + i
            if config.group_size is not None and col % group == 0:
                # The group's scale is taken from its weights as updated so far (all error already pushed).
                scales[:, col // group] = symmetric_scale(block[:, i : i + group], config.num_bits)[:, 0]
            scale = scales[:, col // group]
            q = round_to_grid(block[:, i], scale, config.num_bits)
            levels[:, col] = q
            err = (block[:, i] - q * scale) / u[i, i]
            block[:, i:] -= err.unsqueeze(1) * u[i, i:].unsqueeze(0)
            errors[:, i] = err
        w[:, end:] -= errors @ upper[start:end, end:]
    return levels.to(torch.int8), scales.float()


def dequantize_levels(levels: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """int levels [out, in] × scales [out, groups] -> float64 weights [out, in]."""
    repeat = levels.shape[1] // scales.shape[1]
    return levels.double() * scales.double().repeat_interleave(repeat, dim=1)


def layer_error(weight: torch.Tensor, weight_hat: torch.Tensor, gram: torch.Tensor) -> float:
    """‖X Wᵀ − X Ŵᵀ‖² = tr((W − Ŵ) H (W − Ŵ)ᵀ) for weights [out, in]."""
    diff = weight.double() - weight_hat.double()
    return float(torch.einsum("oi,ij,oj->", diff, gram.double(), diff))
