"""The recommended command lines for the engines: SGLang on GPUs (production), vLLM on CPU (tests, benches).

Every flag is explained in docs/backends.md; the SGLang flags are the project's contract (helpers/COMMON.md)
shared with the Kubernetes manifests.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EngineCommand:
    """argv plus the environment variables it needs on top of the caller's."""

    argv: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        """One copy-pasteable shell line: `VAR=value ... argv`."""
        prefix = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env.items()))
        return (prefix + " " if prefix else "") + shlex.join(self.argv)


def quantization_config(model_dir: Path) -> dict | None:
    """config.json's `quantization_config` (None when absent or when there is no config.json)."""
    config_path = model_dir / "config.json"
    if not config_path.exists():
        return None
    return json.loads(config_path.read_text()).get("quantization_config") or None


def is_fp8_checkpoint(model_dir: Path) -> bool:
    """True when config.json declares FP8 weights (native `fp8` or compressed-tensors float 8-bit)."""
    quant = quantization_config(model_dir) or {}
    method = str(quant.get("quant_method", "")).lower()
    if method in ("fp8", "fbgemm_fp8", "modelopt"):
        return True
    if method == "compressed-tensors":
        groups = (quant.get("config_groups") or {}).values()
        return any(
            (g.get("weights") or {}).get("num_bits") == 8 and (g.get("weights") or {}).get("type") == "float"
            for g in groups
        )
    return False


def sglang_command(
    model_dir: Path,
    tp: int = 1,
    host: str = "0.0.0.0",
    port: int = 30000,
    mem_fraction: float = 0.85,
    chunked_prefill_size: int = 8192,
    python: str = "python3",
) -> EngineCommand:
    """`sglang.launch_server` for scoring: FP8, FlashInfer, radix cache + LPM, metrics, token ids in/out.

    An unquantized checkpoint gets online FP8 (`--quantization fp8`); a checkpoint whose config.json has a
    `quantization_config` (FP8, INT8, W4A16 exports...) runs as stored: SGLang refuses a `--quantization` that
    differs from the checkpoint's own method.
    """
    if tp < 1:
        raise ValueError("--tp must be >= 1")
    argv = [
        python, "-m", "sglang.launch_server",
        "--model-path", str(model_dir),
        "--host", host, "--port", str(port),
        "--tp-size", str(tp),
        "--attention-backend", "flashinfer",
        "--enable-metrics",
        "--mem-fraction-static", f"{mem_fraction:g}",
        "--chunked-prefill-size", str(chunked_prefill_size),
        "--schedule-policy", "lpm",
        "--skip-tokenizer-init",
        "--log-level", "warning",
    ]  # fmt: skip
    if quantization_config(model_dir) is None:
        argv += ["--quantization", "fp8"]
    return EngineCommand(tuple(argv))


def vllm_cpu_command(
    model_dir: Path,
    served_model_name: str,
    host: str = "127.0.0.1",
    port: int = 8011,
    python: str = ".venv-vllm/bin/python",
    dtype: str = "float32",
    threads_bind: str = "0-1",
    kv_cache_gib: int = 1,
    work_dir: Path | None = None,
    is_eager: bool = True,
    max_model_len: int = 4096,
) -> EngineCommand:
    """vLLM's OpenAI server on CPU, as in shared/research/cpu-engines.md §2.2 (module entry point, not `vllm`)."""
    argv = [
        python, "-m", "vllm.entrypoints.openai.api_server",
        "--model", str(model_dir),
        "--served-model-name", served_model_name,
        "--host", host, "--port", str(port),
        "--dtype", dtype,
        "--max-model-len", str(max_model_len),
        "--enable-prefix-caching",
        "--enable-prompt-tokens-details",
        "--max-logprobs", "20",
    ]  # fmt: skip
    if is_eager:
        argv.append("--enforce-eager")
    env = {
        "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib),
        "VLLM_CPU_OMP_THREADS_BIND": threads_bind,
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
    }
    if work_dir is not None:
        env["VLLM_CACHE_ROOT"] = str(work_dir / "cache")
        env["TMPDIR"] = str(work_dir / "tmp")
    return EngineCommand(tuple(argv), env)
