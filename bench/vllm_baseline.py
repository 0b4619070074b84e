"""Baseline (c) of bench/prefill_shapes.py: a real vLLM CPU server (.venv-vllm, prefix caching on) on the same random
checkpoint and the same token ids, scored through the gateway's own vLLM client (label log-probs out)."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

from torch import nn

from ranking.backends.engine_command import vllm_cpu_command
from ranking.backends.engine_process import EngineProcess
from ranking.backends.remote_scorer import PrefixWarmup
from ranking.backends.vllm_scorer import VLLMConfig, VLLMScorer

REPO = Path(__file__).resolve().parents[1]
VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"


def word_level_tokenizer(vocab_size: int) -> Any:
    """A tokenizer with exactly `vocab_size` ids (prompts are ids already; vLLM only needs one of the right size)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(vocab_size)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="t0", bos_token="t1", eos_token="t2")


def save_for_vllm(model: nn.Module, out: Path) -> Path:
    """The random model as a save_pretrained directory with a tokenizer of its vocabulary size."""
    model.save_pretrained(out)
    word_level_tokenizer(model.config.vocab_size).save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_vllm(model_dir: Path, work: Path, dtype: str, max_model_len: int, kv_cache_gib: int) -> EngineProcess:
    """vLLM's OpenAI server on CPU cores 0-1 with prefix caching, waiting until it answers."""
    if not VLLM_PYTHON.exists():
        raise SystemExit("error: .venv-vllm missing; run `make vllm-venv` (scripts/vllm_cpu.sh)")
    port = free_port()
    command = vllm_cpu_command(
        model_dir,
        "bench",
        port=port,
        python=str(VLLM_PYTHON),
        dtype=dtype,
        kv_cache_gib=kv_cache_gib,
        work_dir=work,
        max_model_len=max_model_len,
    )
    return EngineProcess(command, f"http://127.0.0.1:{port}", work / "vllm.log").start(timeout_s=600)


def vllm_scorer(server: EngineProcess) -> VLLMScorer:
    """The gateway's client, sending the prefix alone first for members the replica has not seen (its best mode)."""
    return VLLMScorer(server.base_url, VLLMConfig(warmup=PrefixWarmup.NEW, model_name="bench"))


def wait_until_idle(pid: int, window_s: float = 0.2, busy_s: float = 0.01, max_wait_s: float = 5.0) -> float:
    """Block until the process tree spends under `busy_s` CPU seconds in a `window_s` window (or `max_wait_s`
    passed); returns the seconds waited. vLLM CPU's workers keep spinning for a while after a request, and a mode
    measured right after it would share the cores with that spin."""
    started = time.perf_counter()
    before = process_tree_cpu_seconds(pid)
    while time.perf_counter() - started < max_wait_s:
        time.sleep(window_s)
        now = process_tree_cpu_seconds(pid)
        if now - before < busy_s:
            break
        before = now
    return time.perf_counter() - started


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process and all its live descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime (fields 14 and 15 of stat)
            for task in Path(f"/proc/{current}/task").iterdir():
                stack += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
    return total
