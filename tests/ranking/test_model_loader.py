"""The dtype `auto` resolves to: bf16 where the hardware multiplies it natively, fp32 elsewhere."""

from pathlib import Path

import pytest
import torch

from ranking import model_loader
from ranking.model_loader import (
    BF16_CPU_MIN_HIDDEN,
    CheckpointError,
    cpu_has_native_bf16,
    load_checkpoint,
    resolve_dtype,
)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ("flags : fpu sse avx2 avx512f avx512_bf16 amx_tile", True),
        ("flags : fpu sse avx2 amx_bf16", True),
        ("Features : fp asimd bf16 i8mm", True),  # Arm
        ("flags : fpu sse avx2 avx512f avx512_vnni", False),
        ("flags : fpu sse avx512_bf16x", False),  # whole words only
    ],
)
def test_native_bf16_is_read_from_the_cpu_flags(tmp_path: Path, flags: str, expected: bool) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(f"processor : 0\n{flags}\n")
    assert cpu_has_native_bf16(cpuinfo) is expected


def test_unreadable_cpuinfo_means_no_native_bf16(tmp_path: Path) -> None:
    assert cpu_has_native_bf16(tmp_path / "missing") is False


@pytest.mark.parametrize(
    ("native", "hidden", "expected"),
    [
        (True, 1024, torch.bfloat16),
        (True, BF16_CPU_MIN_HIDDEN, torch.bfloat16),
        (True, 96, torch.float32),  # the shipped model's width: bf16 does not pay there
        (False, 1024, torch.float32),
    ],
)
def test_auto_on_cpu_follows_the_hardware_and_the_width(
    monkeypatch: pytest.MonkeyPatch, native: bool, hidden: int, expected: torch.dtype
) -> None:
    monkeypatch.setattr(model_loader, "cpu_has_native_bf16", lambda: native)
    assert resolve_dtype("auto", torch.device("cpu"), hidden) == expected
    assert resolve_dtype("float32", torch.device("cpu"), hidden) == torch.float32  # an explicit dtype always wins


def test_the_loader_resolves_auto_with_the_checkpoints_width(monkeypatch: pytest.MonkeyPatch, tiny_model_dir) -> None:
    monkeypatch.setattr(model_loader, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setattr(model_loader, "BF16_CPU_MIN_HIDDEN", 1)
    assert load_checkpoint(tiny_model_dir, device="cpu", dtype="auto").dtype == torch.bfloat16
    monkeypatch.setattr(model_loader, "BF16_CPU_MIN_HIDDEN", 10**6)
    assert load_checkpoint(tiny_model_dir, device="cpu", dtype="auto").dtype == torch.float32


def test_auto_on_cuda_is_bf16_and_unknown_names_are_refused() -> None:
    assert resolve_dtype("auto", torch.device("cuda")) == torch.bfloat16
    with pytest.raises(CheckpointError, match="int3"):
        resolve_dtype("int3", torch.device("cpu"))
