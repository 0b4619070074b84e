"""Pack rank groups into one forward pass each: prefix once, then every candidate suffix after it.

Sequence b is `prefix + suffix_1 + ... + suffix_k`. A block mask lets each suffix see the whole prefix and its
own earlier tokens but no other suffix, and position ids restart after the prefix for every suffix, so each
candidate's label logit equals the one from the plain prompt `prefix + suffix_i` (tests check this) while the
prefix is computed once instead of k times: the same saving the service's prefix cache gives at inference.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ranking.labels import LabelTokens
from training.data.example_builder import RankGroup

IGNORE = -100


@dataclass(frozen=True)
class PackedBatch:
    """Tensors of B packed sequences of length L holding N candidates in all."""

    input_ids: torch.Tensor  # (B, L) long
    position_ids: torch.Tensor  # (B, L) long
    attention_mask: torch.Tensor  # (B, 1, L, L) bool, True = may attend
    next_ids: torch.Tensor  # (B, L) long: the token each position predicts; IGNORE on padding
    label_index: torch.Tensor  # (N,) long: flat index b * L + t of each candidate's last suffix token
    label_target: torch.Tensor  # (N,) long: the ground-truth label token id
    positive_ids: torch.Tensor  # (N,) long
    negative_ids: torch.Tensor  # (N,) long
    is_positive: torch.Tensor  # (N,) bool

    @property
    def num_candidates(self) -> int:
        return int(self.label_index.numel())


def pack_groups(groups: Sequence[RankGroup], label_tokens: dict[str, LabelTokens], pad_id: int) -> PackedBatch:
    """Pack each group into one row, right-padded to the longest row."""
    rows = [_pack_one(g, label_tokens[g.task]) for g in groups]
    width = max(len(r[0]) for r in rows)
    num = len(rows)
    input_ids = torch.full((num, width), pad_id, dtype=torch.long)
    position_ids = torch.zeros((num, width), dtype=torch.long)
    next_ids = torch.full((num, width), IGNORE, dtype=torch.long)
    segments = torch.full((num, width), -1, dtype=torch.long)
    label_index: list[int] = []
    for b, (ids, pos, seg, nxt, ends) in enumerate(rows):
        n = len(ids)
        input_ids[b, :n] = torch.tensor(ids)
        position_ids[b, :n] = torch.tensor(pos)
        segments[b, :n] = torch.tensor(seg)
        next_ids[b, :n] = torch.tensor(nxt)
        label_index.extend(b * width + e for e in ends)
    pos_ids, neg_ids, is_pos = _label_columns(groups, label_tokens)
    return PackedBatch(
        input_ids=input_ids,
        position_ids=position_ids,
        attention_mask=block_mask(segments),
        next_ids=next_ids,
        label_index=torch.tensor(label_index, dtype=torch.long),
        label_target=torch.where(is_pos, pos_ids, neg_ids),
        positive_ids=pos_ids,
        negative_ids=neg_ids,
        is_positive=is_pos,
    )


def block_mask(segments: torch.Tensor) -> torch.Tensor:
    """(B, L) segment ids (0 prefix, i suffix i, -1 pad) -> (B, 1, L, L) causal prefix-sharing mask."""
    width = segments.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool).tril()
    q_seg = segments.unsqueeze(2)
    k_seg = segments.unsqueeze(1)
    mask = causal & (q_seg >= 0) & (k_seg >= 0) & ((k_seg == 0) | (k_seg == q_seg))
    # Padding rows attend to themselves only, so softmax never sees an all-masked row (NaN in SDPA).
    mask |= torch.eye(width, dtype=torch.bool) & (q_seg < 0)
    return mask.unsqueeze(1)


def _pack_one(group: RankGroup, labels: LabelTokens) -> tuple[list[int], list[int], list[int], list[int], list[int]]:
    """ids, positions, segments, next-token targets and label positions of one packed row."""
    prefix = list(group.prefix_ids)
    ids, pos, seg = list(prefix), list(range(len(prefix))), [0] * len(prefix)
    nxt = [*prefix[1:], group.suffix_ids[0][0]]
    ends = []
    for i, (suffix, is_pos) in enumerate(zip(group.suffix_ids, group.labels, strict=True), start=1):
        if not suffix:
            raise ValueError("empty candidate suffix")
        ids += suffix
        pos += range(len(prefix), len(prefix) + len(suffix))
        seg += [i] * len(suffix)
        nxt += [*suffix[1:], labels.positive_id if is_pos else labels.negative_id]
        ends.append(len(ids) - 1)
    return ids, pos, seg, nxt, ends


def _label_columns(
    groups: Sequence[RankGroup], label_tokens: dict[str, LabelTokens]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pos = [label_tokens[g.task].positive_id for g in groups for _ in g.labels]
    neg = [label_tokens[g.task].negative_id for g in groups for _ in g.labels]
    is_pos = [lab for g in groups for lab in g.labels]
    return torch.tensor(pos), torch.tensor(neg), torch.tensor(is_pos, dtype=torch.bool)
