"""Data-parallel training under torchrun: the process group, FSDP2 sharding, and full (world-size free) state.

torchrun sets RANK / WORLD_SIZE / LOCAL_RANK; without them a run is one process and nothing here does anything.
Every rank draws the same global batch and trains on its slice of it (training/global_batch.py), the model is
sharded with FSDP2 (`fully_shard` per decoder layer, then the root), and checkpoints hold full, unsharded state
written by rank 0 only, so a run resumes at any world size.
"""

from __future__ import annotations

import contextlib
import os
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the job: rank, world size and local rank (one process per device)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> DistributedContext:
        """The torchrun environment, or a single process when it is absent."""
        env = os.environ
        return cls(int(env.get("RANK", "0")), int(env.get("WORLD_SIZE", "1")), int(env.get("LOCAL_RANK", "0")))

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that logs, evaluates and writes files."""
        return self.rank == 0

    def init(self, device: torch.device) -> None:
        """Join the process group (NCCL on CUDA, gloo on CPU) once; a single process joins nothing."""
        if not self.is_distributed or dist.is_initialized():
            return
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    def barrier(self) -> None:
        if self.is_distributed and dist.is_initialized():
            dist.barrier()

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of `values` over ranks (the tensor itself in one process)."""
        if self.is_distributed:
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values


def shard_model(module: nn.Module, layers: nn.ModuleList) -> nn.Module:
    """FSDP2: each decoder layer its own unit, the rest (embeddings, final norm, head) the root's."""
    from torch.distributed.fsdp import fully_shard

    for layer in layers:
        fully_shard(layer)
    fully_shard(module)
    return module


def gradient_scale(world_size: int) -> float:
    """What a rank multiplies its loss by before backward.

    Each rank's loss is already its share of the global mean, so the step's gradient is the sum over ranks;
    FSDP2 averages (divides by the world size), and `set_gradient_divide_factor(1.0)` needs PREMUL_SUM, which
    gloo lacks, so the loss is scaled instead. The 1-process reference test is what checks this."""
    return float(world_size)


def full_model_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """Unsharded parameters and buffers on the CPU (a collective: every rank calls it)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    options = StateDictOptions(full_state_dict=True, cpu_offload=False)
    state = typing.cast(dict[str, torch.Tensor], get_model_state_dict(module, options=options))
    return {k: v.detach().cpu() for k, v in state.items()}


def full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimiser state keyed by parameter name, unsharded (a collective)."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    return get_optimizer_state_dict(module, optimizer, options=StateDictOptions(full_state_dict=True))


def load_full_state(
    module: nn.Module, optimizer: torch.optim.Optimizer, model_state: dict[str, Any], optim_state: dict[str, Any]
) -> None:
    """Shard full state (from any world size) onto this rank's module and optimiser."""
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    options = StateDictOptions(full_state_dict=True)
    set_model_state_dict(module, model_state, options=options)
    set_optimizer_state_dict(module, optimizer, optim_state, options=options)


class _NullLog:
    def write(self, _: str) -> None:
        pass

    def flush(self) -> None:
        pass


@contextlib.contextmanager
def main_log(path: Path, is_main: bool) -> Iterator[TextIO]:
    """The JSONL log, appended to by rank 0; other ranks write nowhere."""
    if not is_main:
        yield typing.cast(TextIO, _NullLog())
        return
    with path.open("a") as log:
        yield log
