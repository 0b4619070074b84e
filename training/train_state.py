"""The resumable state of a training stage: full (unsharded) model and optimiser state, scheduler and counters.

Written by rank 0 only and keyed by parameter name, so a stage resumes at any world size; loaded with
weights_only, so a state file cannot run code (it holds only tensors and plain values).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from training.distributed import DistributedContext, full_model_state, full_optimizer_state, load_full_state

STATE_FILE = "train_state.pt"


def save_train_state(
    out_dir: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    counters: dict[str, Any],
    config: dict[str, Any],
    parallel: DistributedContext,
) -> None:
    """Gather the full state (a collective) and write it atomically on rank 0."""
    model_state = full_model_state(module)
    optimizer_state = full_optimizer_state(module, optimizer)
    if parallel.is_main:
        tmp = out_dir / (STATE_FILE + ".tmp")
        state = {"model": model_state, "optimizer": optimizer_state, "scheduler": scheduler.state_dict()}
        torch.save({**state, **counters, "config": config}, tmp)
        tmp.replace(out_dir / STATE_FILE)
    parallel.barrier()


def load_train_state(
    out_dir: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: dict[str, Any],
) -> dict[str, Any] | None:
    """Load the state in out_dir, if any, into module, optimiser and scheduler; return its counters."""
    path = out_dir / STATE_FILE
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state["config"] != config:
        raise ValueError(f"{path} was written with another TrainConfig; use a fresh --out directory")
    load_full_state(module, optimizer, state["model"], state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    return {k: v for k, v in state.items() if k not in ("model", "optimizer", "scheduler", "config")}
