"""Plain reference for structured pruning: the dense model with pruned units' input columns zeroed."""

from __future__ import annotations

import torch
from torch import nn


def mask_model(model: nn.Module, layer_reports: list, head_dim: int, heads_per_group: int) -> None:
    """Zero down_proj / o_proj input columns of every unit a LayerReport did not keep (in place)."""
    for report in layer_reports:
        layer = model.model.layers[report.layer]
        if report.kind == "mlp":
            linear, width = layer.mlp.down_proj, 1
        else:
            linear = layer.self_attn.o_proj
            width = head_dim if report.num_groups * head_dim == linear.in_features else head_dim * heads_per_group
        keep = torch.zeros(linear.in_features, dtype=torch.bool)
        for g in report.kept:
            keep[g * width : (g + 1) * width] = True
        with torch.no_grad():
            linear.weight[:, ~keep] = 0.0
