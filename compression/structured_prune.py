"""Structured pruning of a whole HF decoder (any ranking/decoder_layout.py architecture): same width in every
layer, matrices shrunk.

MLP: a neuron is one input column of down_proj with its gate/up rows (Phi3: row i and row I + i of the fused
gate_up_proj); the kept columns of down_proj get the selection's (refit) weights, and config.intermediate_size
becomes the kept count. Fused qkv_proj (Phi3) loses the same q and k/v rows as the separate projections would.

Attention under GQA (`head_scheme`):
* "per_kv_group" (default): every KV head keeps the same number of its query heads; k/v are untouched and
  num_attention_heads = num_key_value_heads × kept-per-group, so heads % kv_heads == 0 always holds and
  the KV cache (the dominant serving memory) is unchanged. OSSCAR runs with one partition per KV head.
* "kv_groups": whole KV groups go (each group = its query heads' o_proj columns); k/v rows shrink too,
  which also shrinks the KV cache but removes n_rep query heads at a time.
head_dim stays and is written explicitly, q_norm/k_norm (per head_dim) are unchanged, and the result is a
standard checkpoint that transformers loads with no custom code.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import torch
from torch import nn

from compression.baselines import baseline_selection
from compression.calibration import ATTENTION_TARGET, MLP_TARGET, Calibration, CalibrationConfig
from compression.layer_problem import GroupLayout, LayerProblem, Selection, num_kept
from compression.osscar import Osscar, OsscarConfig
from ranking.decoder_layout import UnsupportedArchitectureError, decoder_layers, layer_prefixes, model_layout

HEAD_SCHEMES = ("per_kv_group", "kv_groups")
METHODS = ("osscar", "magnitude", "wanda")


@dataclass(frozen=True)
class PruneConfig:
    """What to prune (fractions removed per layer), how to choose, and how to calibrate."""

    mlp_sparsity: float = 0.0
    head_sparsity: float = 0.0
    head_scheme: str = "per_kv_group"
    method: str = "osscar"
    refit: bool = True  # baselines only: least-squares refit of survivors (OSSCAR always refits)
    damp: float = 0.01
    neuron_multiple: int = 1  # kept neurons rounded down to a multiple (128 suits Marlin/W4A16 kernels)
    sequential: bool = False  # re-calibrate each layer on the already-pruned layers below it
    max_seq_len: int = 1024
    solver_device: str = "auto"  # where the layer solvers run: "auto" (CUDA when available), "cpu", "cuda"
    osscar: OsscarConfig = field(default_factory=OsscarConfig)

    def __post_init__(self) -> None:
        if self.head_scheme not in HEAD_SCHEMES:
            raise ValueError(f"head_scheme must be one of {HEAD_SCHEMES}, got {self.head_scheme!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        for name in ("mlp_sparsity", "head_sparsity"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"PruneConfig.{name} must be in [0, 1)")


@dataclass(frozen=True)
class LayerReport:
    """One pruned linear: which groups survived and the relative reconstruction error on calibration data."""

    layer: int
    kind: str  # "mlp" | "attention"
    num_groups: int
    kept: tuple[int, ...]
    relative_error: float
    seconds: float


@dataclass
class PruneReport:
    """Per-layer results of one prune_model call."""

    config: PruneConfig
    layers: list[LayerReport] = field(default_factory=list)

    def mean_error(self, kind: str) -> float:
        errors = [r.relative_error for r in self.layers if r.kind == kind]
        return sum(errors) / len(errors) if errors else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"config": asdict(self.config), "layers": [asdict(r) for r in self.layers]}


def prune_model(
    model: nn.Module, sequences: Sequence[Sequence[int]], config: PruneConfig, progress: bool = False
) -> PruneReport:
    """Prune `model` in place (matrices shrunk, config updated) using calibration `sequences`."""
    report = PruneReport(config)
    fused = model_layout(model).is_fused
    if fused and config.sequential and config.head_sparsity > 0:
        # Phi3's attention reads its head count from the shared config, so a half-pruned stack cannot run.
        raise UnsupportedArchitectureError("sequential head pruning of a fused qkv_proj (phi3) is not supported")
    targets = _targets(config)
    if not targets:
        return report
    calibration = None if config.sequential else _calibrate(model, sequences, targets, None, config, progress)
    for i, (prefix, layer) in enumerate(_progress(layer_prefixes(model), progress)):
        stats = calibration or _calibrate(model, sequences, targets, (i,), config, False)
        if config.mlp_sparsity > 0:
            report.layers.append(_prune_mlp(layer.mlp, stats.gram(prefix + MLP_TARGET), i, config, fused))
        if config.head_sparsity > 0:
            gram = stats.gram(prefix + ATTENTION_TARGET)
            report.layers.append(_prune_attention(layer.self_attn, gram, i, config, fused))
    _update_config(model)
    return report


def select(problem: LayerProblem, num_keep: int, config: PruneConfig) -> Selection:
    """The configured method's selection (weights refit for OSSCAR, and for baselines when config.refit)."""
    if config.method == "osscar":
        return Osscar(config.osscar).select(problem, num_keep)
    return baseline_selection(problem, num_keep, config.method, refit=config.refit)


def solver_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else CPU; `cuda` without CUDA is refused."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"solver device {name!r} requested but CUDA is not available")
    return torch.device(name)


def mlp_problem(mlp: Any, gram: torch.Tensor, damp: float, device: str = "cpu") -> LayerProblem:
    """down_proj's problem: one group per intermediate neuron."""
    weight = mlp.down_proj.weight.detach().T
    return LayerProblem(gram, weight, GroupLayout(weight.shape[0], 1), damp, solver_device(device))


def attention_problem(attn: Any, gram: torch.Tensor, scheme: str, damp: float, device: str = "cpu") -> LayerProblem:
    """o_proj's problem: a group per query head (partitioned by KV head) or per whole KV group."""
    num_heads, num_kv, head_dim = _head_counts(attn)
    weight = attn.o_proj.weight.detach().T
    if scheme == "per_kv_group":
        layout = GroupLayout(num_heads, head_dim, num_partitions=num_kv)
    else:
        layout = GroupLayout(num_kv, head_dim * (num_heads // num_kv))
    return LayerProblem(gram, weight, layout, damp, solver_device(device))


def attention_keep_count(attn: Any, sparsity: float, scheme: str) -> int:
    """Groups kept at `sparsity`: query heads (a multiple of the KV-head count) or whole KV groups."""
    num_heads, num_kv, _ = _head_counts(attn)
    if scheme == "per_kv_group":
        return num_kv * num_kept(num_heads // num_kv, sparsity)
    return num_kept(num_kv, sparsity)


def shrink_mlp(mlp: Any, kept: Sequence[int], down_weight: torch.Tensor | None = None, fused: bool = False) -> None:
    """Keep only neurons `kept`; down_weight [intermediate, hidden] (input-major, full width) if refit."""
    idx = torch.as_tensor(list(kept), dtype=torch.long)
    if fused:
        width = mlp.down_proj.in_features
        mlp.gate_up_proj = _slice_linear(mlp.gate_up_proj, rows=torch.cat([idx, idx + width]))
    else:
        mlp.gate_proj = _slice_linear(mlp.gate_proj, rows=idx)
        mlp.up_proj = _slice_linear(mlp.up_proj, rows=idx)
    mlp.down_proj = _slice_linear(mlp.down_proj, cols=idx, weight=_input_major(down_weight, idx))
    mlp.intermediate_size = len(idx)


def shrink_attention(
    attn: Any,
    kept_heads: Sequence[int],
    kept_kv: Sequence[int],
    o_weight: torch.Tensor | None = None,
    fused: bool = False,
) -> None:
    """Keep query heads `kept_heads` and KV heads `kept_kv`; o_weight [heads*head_dim, hidden] if refit."""
    num_heads, num_kv, head_dim = _head_counts(attn)
    q_idx = _head_rows(kept_heads, head_dim)
    kv_idx = _head_rows(kept_kv, head_dim)
    if fused:  # qkv_proj rows: q heads, then k heads, then v heads
        q_width, kv_width = num_heads * head_dim, num_kv * head_dim
        rows = torch.cat([q_idx, q_width + kv_idx, q_width + kv_width + kv_idx])
        attn.qkv_proj = _slice_linear(attn.qkv_proj, rows=rows)
    else:
        attn.q_proj = _slice_linear(attn.q_proj, rows=q_idx)
        attn.k_proj = _slice_linear(attn.k_proj, rows=kv_idx)
        attn.v_proj = _slice_linear(attn.v_proj, rows=kv_idx)
    attn.o_proj = _slice_linear(attn.o_proj, cols=q_idx, weight=_input_major(o_weight, q_idx))
    attn.num_key_value_groups = len(kept_heads) // len(kept_kv)
    if hasattr(attn, "num_key_value_heads"):
        attn.num_key_value_heads = len(kept_kv)


def _prune_mlp(mlp: Any, gram: torch.Tensor, index: int, config: PruneConfig, fused: bool) -> LayerReport:
    start = time.perf_counter()
    problem = mlp_problem(mlp, gram, config.damp, config.solver_device)
    keep = num_kept(problem.layout.num_groups, config.mlp_sparsity, config.neuron_multiple)
    selection = select(problem, keep, config)
    shrink_mlp(mlp, selection.kept, selection.weight, fused)
    return LayerReport(
        index,
        "mlp",
        problem.layout.num_groups,
        selection.kept,
        problem.relative_error(selection.weight),
        time.perf_counter() - start,
    )


def _prune_attention(attn: Any, gram: torch.Tensor, index: int, config: PruneConfig, fused: bool) -> LayerReport:
    start = time.perf_counter()
    num_heads, num_kv, _ = _head_counts(attn)
    problem = attention_problem(attn, gram, config.head_scheme, config.damp, config.solver_device)
    selection = select(problem, attention_keep_count(attn, config.head_sparsity, config.head_scheme), config)
    if config.head_scheme == "per_kv_group":
        kept_heads, kept_kv = list(selection.kept), list(range(num_kv))
    else:
        rep = num_heads // num_kv
        kept_kv = list(selection.kept)
        kept_heads = [kv * rep + j for kv in kept_kv for j in range(rep)]
    shrink_attention(attn, kept_heads, kept_kv, selection.weight, fused)
    return LayerReport(
        index,
        "attention",
        problem.layout.num_groups,
        selection.kept,
        problem.relative_error(selection.weight),
        time.perf_counter() - start,
    )


def _head_counts(attn: Any) -> tuple[int, int, int]:
    """(query heads, KV heads, head_dim) read off the module's current shapes (fused qkv_proj included)."""
    head_dim = int(attn.head_dim)
    num_heads = attn.o_proj.in_features // head_dim
    if hasattr(attn, "qkv_proj"):
        return num_heads, (attn.qkv_proj.out_features // head_dim - num_heads) // 2, head_dim
    return num_heads, attn.k_proj.out_features // head_dim, head_dim


def _head_rows(heads: Sequence[int], head_dim: int) -> torch.Tensor:
    return GroupLayout(max(heads) + 1, head_dim).columns(heads)


def _input_major(weight: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    """Kept rows of an input-major [p, q] weight, as a Linear weight [q, kept]."""
    return None if weight is None else weight[idx].T


def _slice_linear(
    linear: nn.Linear,
    rows: torch.Tensor | None = None,
    cols: torch.Tensor | None = None,
    weight: torch.Tensor | None = None,
) -> nn.Linear:
    """A new Linear with the given output rows / input columns (and optionally replacement weights)."""
    w = linear.weight.detach()
    if rows is not None:
        w = w[rows]
    if cols is not None:
        w = w[:, cols] if weight is None else weight
    bias = linear.bias
    out = nn.Linear(
        w.shape[1], w.shape[0], bias=bias is not None, device=linear.weight.device, dtype=linear.weight.dtype
    )
    with torch.no_grad():
        out.weight.copy_(w.to(out.weight.dtype))
        if bias is not None:
            out.bias.copy_(bias.detach()[rows] if rows is not None else bias.detach())
    return out


def _update_config(model: nn.Module) -> None:
    """Write the (uniform) new widths into the model config; head_dim is made explicit."""
    config: Any = model.config
    layer: Any = decoder_layers(model)[0]
    config.intermediate_size = layer.mlp.down_proj.in_features
    num_heads, num_kv, head_dim = _head_counts(layer.self_attn)
    config.num_attention_heads, config.num_key_value_heads, config.head_dim = num_heads, num_kv, head_dim


def _targets(config: PruneConfig) -> tuple[str, ...]:
    return tuple(t for t, s in ((MLP_TARGET, config.mlp_sparsity), (ATTENTION_TARGET, config.head_sparsity)) if s)


def _calibrate(
    model: nn.Module,
    sequences: Sequence[Sequence[int]],
    targets: tuple[str, ...],
    layers: tuple[int, ...] | None,
    config: PruneConfig,
    progress: bool,
) -> Calibration:
    cal_config = CalibrationConfig(targets=targets, max_seq_len=config.max_seq_len, layer_indices=layers)
    return Calibration.capture(model, sequences, cal_config, progress=progress)


def _progress(layers: list[tuple[str, nn.Module]], enabled: bool) -> Any:
    if not enabled:
        return layers
    from tqdm import tqdm

    return tqdm(layers, desc="pruning", unit="layer")


def gradual_sparsities(final_sparsity: float, num_steps: int) -> list[float]:
    """Per-step fractions of the *current* width to prune so that the cumulative pruned fraction grows
    linearly to `final_sparsity` over `num_steps` prune+KD rounds (e.g. 0.4 in 2 steps: 0.2, then 0.25)."""
    if num_steps < 1 or not 0.0 <= final_sparsity < 1.0:
        raise ValueError("gradual_sparsities needs num_steps >= 1 and final_sparsity in [0, 1)")
    kept = [1.0 - final_sparsity * (i + 1) / num_steps for i in range(num_steps)]
    previous = [1.0, *kept[:-1]]
    return [1.0 - k / p for k, p in zip(kept, previous, strict=True)]


def gradual_prune(
    model: nn.Module,
    sequences: Sequence[Sequence[int]],
    config: PruneConfig,
    num_steps: int,
    after_step: Callable[[nn.Module, int], None] | None = None,
) -> list[PruneReport]:
    """Prune to config's sparsities in `num_steps` rounds; `after_step(model, i)` runs between them (KD).

    Each round recalibrates on the model as it is then (pruned and distilled so far), so later rounds
    choose with the statistics of the recovered model, not the original's.
    """
    mlp_steps = gradual_sparsities(config.mlp_sparsity, num_steps)
    head_steps = gradual_sparsities(config.head_sparsity, num_steps)
    reports = []
    for i in range(num_steps):
        step = replace(config, mlp_sparsity=mlp_steps[i], head_sparsity=head_steps[i])
        reports.append(prune_model(model, sequences, step))
        if after_step is not None:
            after_step(model, i)
    return reports
