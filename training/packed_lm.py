"""A causal LM as one module that returns only the logit rows a loss reads (the unit FSDP2 shards as its root)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from training.objectives.ranking_losses import LossTerms
from training.packed_batch import PackedBatch
from training.packed_forward import packed_hidden, rows_logits

# (LM head, (M, H) hidden rows) -> a scalar loss term.
SequenceTerm = Callable[[nn.Module, torch.Tensor], torch.Tensor]


class PackedLM(nn.Module):
    """Wraps a HF causal LM (`.model` body, `.lm_head`): packed batch -> (label rows, sequence rows) logits."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, batch: PackedBatch, positions: torch.Tensor, sequence_term: SequenceTerm | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, V) float32 logits at the label positions and (M, V) at the flat sequence `positions`; with
        `sequence_term`, instead of the latter its value on (LM head, (M, H) hidden rows) (the chunked path)."""
        hidden = packed_hidden(self.model, batch)
        label_logits = rows_logits(self.model, hidden, batch.label_index)
        if sequence_term is None:
            return label_logits, rows_logits(self.model, hidden, positions)
        head = typing.cast(Any, self.model).lm_head
        return label_logits, sequence_term(head, hidden[positions.to(hidden.device)])

    def label_logits_and_rows(self, batch: PackedBatch, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, V) label logits and the (M, H) hidden rows at `positions` (a teacher's, for the chunked path)."""
        hidden = packed_hidden(self.model, batch)
        return rows_logits(self.model, hidden, batch.label_index), hidden[positions.to(hidden.device)]

    @property
    def layers(self) -> nn.ModuleList:
        """The decoder layers (one FSDP2 unit each)."""
        return typing.cast(nn.ModuleList, typing.cast(Any, self.model).model.layers)


def module_terms(
    module: PackedLM, batch: PackedBatch, positions: torch.Tensor, label_scale: float = 1.0, seq_scale: float = 1.0
) -> LossTerms:
    """Label rows and sampled sequence rows of one packed forward pass of a PackedLM."""
    label_logits, sequence_logits = module(batch, positions)
    device = label_logits.device
    return LossTerms(
        label_logits=label_logits,
        label_target=batch.label_target.to(device),
        sequence_logits=sequence_logits,
        sequence_target=batch.next_ids.flatten()[positions].to(device),
        label_scale=label_scale,
        sequence_scale=seq_scale,
    )


def set_checkpointing(model: nn.Module, on: bool) -> None:
    """Recompute each decoder layer's activations in backward (non-reentrant), or stop doing so."""
    hf: Any = model
    if on:
        kwargs = {"use_reentrant": False}
        if hasattr(hf, "activation_checkpointing_enable"):  # transformers >= 5 (the older name is deprecated)
            hf.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    elif hasattr(hf, "activation_checkpointing_disable"):
        hf.activation_checkpointing_disable()
    else:
        hf.gradient_checkpointing_disable()
