"""`slmrank compress prune|quantize` (+ `recover`, `tables` from training): compress a saved checkpoint.

Every option's default is a field of compression.compress_config.CompressConfig. Dense outputs keep the input
checkpoint's dtype (bf16 stays bf16) unless --dtype says otherwise; the maths runs in float32/float64 either way.
Unsupported architectures and impossible settings stop before any work, with one line.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from compression.compress_config import DEFAULTS, DTYPES

CALIBRATION_HELP = (
    "calibration token sequences: 'generic' (built-in English-like text) or a .jsonl file whose lines are "
    'token-id lists, {"input_ids": [...]} or {"text": "..."} (e.g. in-domain ranking prompts)'
)


def register(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """Add `compress` with `prune` and `quantize`; returns its job group (training adds `recover` and `tables`)."""
    parser = subparsers.add_parser(
        "compress", help="prune (OSSCAR) or quantize (FP8/INT8/W4A16) a checkpoint", description=__doc__
    )
    jobs = parser.add_subparsers(dest="compress_command", metavar="JOB", required=True)
    prune = jobs.add_parser(
        "prune",
        help="OSSCAR structured pruning of MLP neurons / attention heads",
        description="Prune the same number of MLP neurons and query heads in every layer, "
        "refit the surviving weights by least squares, and save a standard (smaller) checkpoint.",
    )
    add_common(prune)
    add_prune_options(prune)
    prune.set_defaults(handler=run_prune)
    quantize = jobs.add_parser(
        "quantize",
        help="export a compressed-tensors checkpoint (SGLang/vLLM/HF load it)",
        description="Quantize every decoder Linear (lm_head kept) and write a "
        "compressed-tensors checkpoint: fp8_dynamic, w8a8_int8 (SmoothQuant + GPTQ), "
        "w4a16 (GPTQ, packed int4).",
    )
    add_common(quantize)
    quantize.add_argument("--scheme", default=DEFAULTS.scheme, choices=("fp8_dynamic", "w8a8_int8", "w4a16"))
    quantize.add_argument(
        "--group-size", type=int, default=DEFAULTS.group_size, help="w4a16 inputs per scale (0: largest that fits)"
    )
    quantize.add_argument(
        "--smoothing-strength", type=float, default=DEFAULTS.smoothing_strength, help="SmoothQuant alpha (w8a8_int8)"
    )
    quantize.add_argument("--rtn", action="store_true", help="round-to-nearest instead of GPTQ (ablation)")
    quantize.set_defaults(handler=run_quantize)
    return jobs


def add_common(parser: argparse.ArgumentParser) -> None:
    """Input, output, calibration, dtype and thread options shared by every compress job."""
    parser.add_argument("--model", required=True, help="input checkpoint directory (save_pretrained layout)")
    parser.add_argument("--out", required=True, help="output checkpoint directory")
    parser.add_argument("--calibration", default=DEFAULTS.calibration, help=CALIBRATION_HELP)
    parser.add_argument("--num-calibration", type=int, default=DEFAULTS.num_calibration, help="sequences used")
    parser.add_argument("--max-seq-len", type=int, default=DEFAULTS.max_seq_len)
    parser.add_argument(
        "--dtype", default=DEFAULTS.dtype, choices=DTYPES, help="dtype of the written weights (auto: the input's)"
    )
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed)


def add_prune_options(parser: argparse.ArgumentParser) -> None:
    """What to prune and the OSSCAR solver's knobs."""
    parser.add_argument("--mlp-sparsity", type=float, default=0.0, help="fraction of MLP neurons removed per layer")
    parser.add_argument("--head-sparsity", type=float, default=0.0, help="fraction of query heads removed per layer")
    parser.add_argument("--method", default=DEFAULTS.method, choices=("osscar", "magnitude", "wanda"))
    parser.add_argument(
        "--head-scheme",
        default=DEFAULTS.head_scheme,
        choices=("per_kv_group", "kv_groups"),
        help="GQA: prune query heads evenly within KV groups, or drop whole KV groups",
    )
    parser.add_argument(
        "--neuron-multiple",
        type=int,
        default=DEFAULTS.neuron_multiple,
        help="round kept neurons down to a multiple (32: vLLM CPU W4A16; 128: GPU Marlin)",
    )
    parser.add_argument("--sequential", action="store_true", help="recalibrate each layer on the pruned ones below")
    parser.add_argument(
        "--device", default=DEFAULTS.solver_device, help="where OSSCAR and the refits run: auto, cpu or cuda"
    )
    parser.add_argument("--greedy-steps", type=int, default=DEFAULTS.osscar.num_greedy_steps, help="OSSCAR blocks")
    parser.add_argument(
        "--swap-rounds", type=int, default=DEFAULTS.osscar.max_swap_rounds, help="OSSCAR swaps at most (0: off)"
    )
    parser.add_argument(
        "--swap-candidates",
        type=int,
        default=DEFAULTS.osscar.swap_candidates,
        help="kept groups tried as the one to swap out (0: all)",
    )


def prune_config(args: argparse.Namespace) -> Any:
    """The PruneConfig the prune options describe."""
    from dataclasses import replace

    from compression.structured_prune import PruneConfig

    osscar = replace(
        DEFAULTS.osscar,
        num_greedy_steps=args.greedy_steps,
        max_swap_rounds=args.swap_rounds,
        swap_candidates=args.swap_candidates,
    )
    return PruneConfig(
        mlp_sparsity=args.mlp_sparsity,
        head_sparsity=args.head_sparsity,
        method=args.method,
        head_scheme=args.head_scheme,
        neuron_multiple=args.neuron_multiple,
        sequential=args.sequential,
        max_seq_len=args.max_seq_len,
        solver_device=args.device,
        osscar=osscar,
    )


def run_prune(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress prune`."""
    from compression.structured_prune import prune_model

    model, tokenizer, dtype = load_for_compression(args)
    report = _refusing(lambda: prune_model(model, calibration_sequences(args, tokenizer), prune_config(args), True))
    out = Path(args.out)
    model.to(dtype).save_pretrained(out)
    tokenizer.save_pretrained(out)
    _copy_prompt_config(Path(args.model), out)
    (out / "compression.json").write_text(json.dumps({"prune": report.to_dict()}, indent=1))
    print(
        f"pruned: mean relative error mlp {report.mean_error('mlp'):.4f}, attention "
        f"{report.mean_error('attention'):.4f}; intermediate_size={model.config.intermediate_size}, "
        f"heads={model.config.num_attention_heads}/{model.config.num_key_value_heads}; {_sizes(args.model, out)}"
    )
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress quantize`."""
    from compression.export import export_compressed
    from compression.quantize import QuantizeConfig, fitted_group_size, quantize_model

    model, tokenizer, dtype = load_for_compression(args)
    group_size = args.group_size
    if args.scheme == "w4a16" and not group_size:
        group_size = _refusing(lambda: fitted_group_size(model, 128))
    config = _refusing(
        lambda: QuantizeConfig(
            scheme=args.scheme,
            group_size=group_size or 128,
            max_seq_len=args.max_seq_len,
            smoothing_strength=args.smoothing_strength,
            use_gptq=not args.rtn,
        )
    )
    sequences = calibration_sequences(args, tokenizer) if config.needs_calibration else []
    layers = _refusing(lambda: quantize_model(model, sequences, config, progress=True))
    out = export_compressed(model.to(dtype), layers, config.to_scheme(), args.out, source_dir=args.model)
    tokenizer.save_pretrained(out)
    group = f" (group size {config.group_size})" if args.scheme == "w4a16" else ""
    print(f"{args.scheme}{group}: {len(layers)} linears, {_sizes(args.model, out)}")
    return 0


def load_for_compression(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(float32 model, tokenizer, output dtype) after refusing unsupported checkpoints in one line."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ranking.decoder_layout import UnsupportedArchitectureError, decoder_layout
    from ranking.model_loader import DTYPES as TORCH_DTYPES

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    config_path = Path(args.model) / "config.json"
    if not config_path.exists():
        raise SystemExit(f"slmrank compress: {args.model} has no config.json; pass a save_pretrained directory")
    config = json.loads(config_path.read_text())
    try:  # refuse an unsupported architecture before loading any weights, in one line
        decoder_layout(config)
    except UnsupportedArchitectureError as exc:
        raise SystemExit(f"slmrank compress: {exc}") from None
    if isinstance(config.get("quantization_config"), dict):
        raise SystemExit(f"slmrank compress: {args.model} is already quantized; compress its dense checkpoint")
    name = args.dtype if args.dtype != "auto" else str(config.get("dtype") or config.get("torch_dtype") or "float32")
    dtype = TORCH_DTYPES.get(name, torch.float32)
    # The maths (calibration, solvers, GPTQ) runs in float32; only the written weights take `dtype`.
    model = AutoModelForCausalLM.from_pretrained(args.model, local_files_only=True, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(args.model, local_files_only=True), dtype


def calibration_sequences(args: argparse.Namespace, tokenizer: Any) -> list[list[int]]:
    """Token sequences named by --calibration, at most --num-calibration of them."""
    from compression.calibration import encode_texts, generic_text

    def encode(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    if args.calibration == "generic":
        return encode_texts(encode, generic_text(args.num_calibration, seed=args.seed), args.max_seq_len)
    sequences: list[list[int]] = []
    with open(args.calibration, encoding="utf-8") as f:
        for line in f:
            if len(sequences) == args.num_calibration:
                break
            item = json.loads(line)
            if isinstance(item, dict):
                item = item["input_ids"] if "input_ids" in item else encode(item["text"])
            sequences.append([int(t) for t in item][: args.max_seq_len])
    return sequences


def _refusing(work: Any) -> Any:
    """Run `work()`; a ValueError (bad setting, unsupported shape) becomes one line and exit status 1."""
    try:
        return work()
    except ValueError as exc:
        raise SystemExit(f"slmrank compress: {exc}") from None


def _sizes(model_dir: str | Path, out: Path) -> str:
    """'input X MB -> output Y MB (out)' from the weight files."""
    from compression.export import checkpoint_bytes

    return f"{checkpoint_bytes(model_dir) / 1e6:.1f} MB -> {checkpoint_bytes(out) / 1e6:.1f} MB ({out})"


def _copy_prompt_config(src: Path, out: Path) -> None:
    """The checkpoint card (tasks, prompt budgets) travels with it (serving must use what training used)."""
    if (src / "slmrank.json").exists():
        (out / "slmrank.json").write_text((src / "slmrank.json").read_text())
