"""The groups of one optimiser step: the same for every world size, split into rank slices and micro-batches.

The global batch is drawn from rng([seed, step]) exactly as a one-process run draws it; rank r trains on groups
r, r + W, r + 2W, ... in `grad_accum_steps` micro-batches. Each micro-batch's loss is scaled by its share of the
global label rows and sampled sequence positions, so summing the gradients over micro-batches and ranks gives the
gradient of the one-process, one-batch loss (tests compare them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from training.data.example_builder import RankGroup
from training.setup_error import SetupError


def row_len(group: RankGroup) -> int:
    """Tokens of the packed row of a group (every one of them predicts a next token)."""
    return len(group.prefix_ids) + sum(len(s) for s in group.suffix_ids)


def row_generator(seed: int, step: int, index: int) -> torch.Generator:
    """The generator that samples the sequence positions of global group `index` at `step`."""
    state = np.random.SeedSequence([seed, step, index]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


@dataclass(frozen=True)
class MicroBatch:
    """Some groups of one rank with their global indices and their shares of the global loss normalisers."""

    groups: list[RankGroup]
    indices: list[int]
    label_scale: float
    sequence_scale: float
    group_share: float


class GlobalBatch:
    """`groups` (one step's global batch) with the counts the loss is normalised by."""

    def __init__(self, groups: list[RankGroup], positions_per_row: int) -> None:
        self.groups = groups
        self.positions_per_row = positions_per_row
        self.num_labels = sum(len(g.labels) for g in groups)
        self.num_sequence = sum(self._positions(g) for g in groups)

    def per_group_positions(self) -> list[int]:
        """Sequence positions sampled in each group's row, in group order."""
        return [self._positions(g) for g in self.groups]

    def _positions(self, group: RankGroup) -> int:
        n = row_len(group)
        return min(n, self.positions_per_row) if self.positions_per_row > 0 else n

    def micro_batches(self, rank: int, world_size: int, accum_steps: int) -> list[MicroBatch]:
        """This rank's slice in `accum_steps` equal micro-batches (every rank runs the same number of passes)."""
        check_divisible(len(self.groups), world_size, accum_steps)
        mine = list(range(rank, len(self.groups), world_size))
        size = len(mine) // accum_steps
        return [self._micro(mine[i * size : (i + 1) * size]) for i in range(accum_steps)]

    def _micro(self, indices: list[int]) -> MicroBatch:
        groups = [self.groups[i] for i in indices]
        labels = sum(len(g.labels) for g in groups)
        positions = sum(self._positions(g) for g in groups)
        return MicroBatch(
            groups,
            indices,
            labels / self.num_labels,
            positions / self.num_sequence if self.num_sequence else 0.0,
            len(groups) / len(self.groups),
        )


def check_divisible(groups_per_step: int, world_size: int, accum_steps: int) -> None:
    """Refuse a step that cannot be split evenly over ranks and micro-batches, naming the numbers."""
    if accum_steps < 1 or groups_per_step % (world_size * accum_steps):
        raise SetupError(
            f"groups_per_step={groups_per_step} must be a multiple of world size {world_size} x "
            f"grad_accum_steps {accum_steps}"
        )
