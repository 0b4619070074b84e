"""The defaults of every compression job, stated once: `slmrank compress ...` reads its option defaults from here.

The library configs (`PruneConfig`, `QuantizeConfig`, `OsscarConfig`) keep exact, neutral defaults (no rounding of
widths, the kernels' preferred group size); a *job* on a real checkpoint also needs widths the serving kernels
take, a W4A16 group size that divides them, a calibration set and an output dtype, which live here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from compression.osscar import OsscarConfig
from compression.quantize import SCHEMES

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class CompressConfig:
    """One compression job's settings; every `slmrank compress` option defaults to a field of this class."""

    calibration: str = "generic"  # 'generic' (built-in text) or a .jsonl file (see compression/cli.py)
    num_calibration: int = 128
    max_seq_len: int = 1024
    seed: int = 0
    # Kept MLP neurons rounded down to a multiple: 32 keeps every width a multiple of vLLM CPU's W4A16 kernel
    # input size (32) and of every W4A16 group size up to 32; GPU Marlin wants 128 (pass --neuron-multiple 128).
    neuron_multiple: int = 32
    method: str = "osscar"
    head_scheme: str = "per_kv_group"
    scheme: str = "fp8_dynamic"
    group_size: int = 0  # W4A16: 0 picks the largest of 128/64/32/16/8 dividing every input width
    smoothing_strength: float = 0.8
    dtype: str = "auto"  # dense outputs: 'auto' keeps the input checkpoint's dtype
    solver_device: str = "auto"  # OSSCAR / refits: CUDA when available
    osscar: OsscarConfig = field(default_factory=OsscarConfig)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.neuron_multiple < 1 or self.group_size < 0 or self.num_calibration < 1:
            raise ValueError("neuron_multiple >= 1, group_size >= 0 and num_calibration >= 1")


DEFAULTS = CompressConfig()
