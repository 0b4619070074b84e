"""`slmrank compress prune|quantize`: structured pruning and quantized export of a saved checkpoint."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

CALIBRATION_HELP = (
    "calibration token sequences: 'generic' (built-in English-like text) or a .jsonl file whose lines are "
    'token-id lists, {"input_ids": [...]} or {"text": "..."} (e.g. in-domain ranking prompts)'
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `compress` with its `prune` and `quantize` subcommands."""
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
    _common(prune)
    prune.add_argument("--mlp-sparsity", type=float, default=0.0, help="fraction of MLP neurons removed per layer")
    prune.add_argument("--head-sparsity", type=float, default=0.0, help="fraction of query heads removed per layer")
    prune.add_argument("--method", default="osscar", choices=("osscar", "magnitude", "wanda"))
    prune.add_argument(
        "--head-scheme",
        default="per_kv_group",
        choices=("per_kv_group", "kv_groups"),
        help="GQA: prune query heads evenly within KV groups, or drop whole KV groups",
    )
    prune.add_argument("--neuron-multiple", type=int, default=1, help="round kept neurons down to a multiple")
    prune.add_argument("--sequential", action="store_true", help="recalibrate each layer on the pruned ones below")
    prune.set_defaults(handler=run_prune)

    quantize = jobs.add_parser(
        "quantize",
        help="export a compressed-tensors checkpoint (SGLang/vLLM/HF load it)",
        description="Quantize every decoder Linear (lm_head kept) and write a "
        "compressed-tensors checkpoint: fp8_dynamic, w8a8_int8 (SmoothQuant + GPTQ), "
        "w4a16 (GPTQ, packed int4).",
    )
    _common(quantize)
    quantize.add_argument("--scheme", default="fp8_dynamic", choices=("fp8_dynamic", "w8a8_int8", "w4a16"))
    quantize.add_argument("--group-size", type=int, default=128, help="w4a16 inputs per scale")
    quantize.add_argument("--smoothing-strength", type=float, default=0.8, help="SmoothQuant alpha (w8a8_int8)")
    quantize.add_argument("--rtn", action="store_true", help="round-to-nearest instead of GPTQ (ablation)")
    quantize.set_defaults(handler=run_quantize)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="input checkpoint directory (save_pretrained layout)")
    parser.add_argument("--out", required=True, help="output checkpoint directory")
    parser.add_argument("--calibration", default="generic", help=CALIBRATION_HELP)
    parser.add_argument("--num-calibration", type=int, default=128, help="calibration sequences used")
    parser.add_argument("--max-seq-len", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--seed", type=int, default=0)


def run_prune(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress prune`."""
    from compression.structured_prune import PruneConfig, prune_model

    model, tokenizer = _load(args)
    config = PruneConfig(
        mlp_sparsity=args.mlp_sparsity,
        head_sparsity=args.head_sparsity,
        method=args.method,
        head_scheme=args.head_scheme,
        neuron_multiple=args.neuron_multiple,
        sequential=args.sequential,
        max_seq_len=args.max_seq_len,
    )
    report = prune_model(model, _calibration(args, tokenizer), config, progress=True)
    out = Path(args.out)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _copy_prompt_config(Path(args.model), out)
    (out / "compression.json").write_text(json.dumps({"prune": report.to_dict()}, indent=1))
    print(
        f"pruned: mean relative error mlp {report.mean_error('mlp'):.4f}, attention "
        f"{report.mean_error('attention'):.4f}; intermediate_size={model.config.intermediate_size}, "
        f"heads={model.config.num_attention_heads}/{model.config.num_key_value_heads} -> {out}"
    )
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    """Handler of `slmrank compress quantize`."""
    from compression.export import checkpoint_bytes, export_compressed
    from compression.quantize import QuantizeConfig, quantize_model

    model, tokenizer = _load(args)
    config = QuantizeConfig(
        scheme=args.scheme,
        group_size=args.group_size,
        max_seq_len=args.max_seq_len,
        smoothing_strength=args.smoothing_strength,
        use_gptq=not args.rtn,
    )
    sequences = _calibration(args, tokenizer) if config.needs_calibration else []
    layers = quantize_model(model, sequences, config, progress=True)
    out = export_compressed(model, layers, config.to_scheme(), args.out, source_dir=args.model)
    tokenizer.save_pretrained(out)
    print(f"{args.scheme}: {len(layers)} linears, {checkpoint_bytes(out) / 1e6:.1f} MB -> {out}")
    return 0


def _load(args: argparse.Namespace) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ranking.decoder_layout import UnsupportedArchitectureError, decoder_layout

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.threads:
        torch.set_num_threads(args.threads)
    config_path = Path(args.model) / "config.json"
    if not config_path.exists():
        raise SystemExit(f"slmrank compress: {args.model} has no config.json; pass a save_pretrained directory")
    try:  # refuse an unsupported architecture before loading any weights, in one line
        decoder_layout(json.loads(config_path.read_text()))
    except UnsupportedArchitectureError as exc:
        raise SystemExit(f"slmrank compress: {exc}") from None
    model = AutoModelForCausalLM.from_pretrained(args.model, local_files_only=True, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(args.model, local_files_only=True)


def _calibration(args: argparse.Namespace, tokenizer: Any) -> list[list[int]]:
    """Token sequences named by --calibration, at most --num-calibration of them."""
    from compression.calibration import encode_texts, generic_text

    def encode(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    if args.calibration == "generic":
        return encode_texts(encode, generic_text(args.num_calibration, seed=args.seed), args.max_seq_len)
    sequences = []
    with open(args.calibration, encoding="utf-8") as f:
        for line in f:
            if len(sequences) == args.num_calibration:
                break
            item = json.loads(line)
            if isinstance(item, dict):
                item = item["input_ids"] if "input_ids" in item else encode(item["text"])
            sequences.append([int(t) for t in item][: args.max_seq_len])
    return sequences


def _copy_prompt_config(src: Path, out: Path) -> None:
    """The prompt budgets saved with the checkpoint travel with it (serving must use what training used)."""
    if (src / "slmrank.json").exists():
        (out / "slmrank.json").write_text((src / "slmrank.json").read_text())
