"""`slmrank card init | show`: write a model card for any HF causal-LM directory, or check and print one."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ranking.card import CARD_FILE, CardError, ModelCard
from ranking.input_contract import InputContract
from ranking.prompt_builder import PromptConfig
from ranking.tasks import Task

INIT_EPILOG = """\
Repeat the --task/--instruction/--question/--labels group once per task; the first task is the default.
Labels carry their leading space when the model predicts them after "Answer:" (" Yes", not "Yes"), and each
must be exactly one token of the checkpoint's tokenizer: init checks that and names the offending label.

example:
  slmrank card init --model ckpt/ --task apply \\
      --instruction "Task: predict whether the member will apply to the candidate job." \\
      --question "Will the member apply?" --labels " Yes" " No" --max-prefix-len 1024
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `card init` and `card show`."""
    card = subparsers.add_parser(
        "card",
        help="write or check a checkpoint's model card (tasks, labels, prompt budgets, input contract)",
        description=f"The model card ({CARD_FILE}) says what a checkpoint ranks and how to ask it.",
    )
    verbs = card.add_subparsers(dest="card_verb", metavar="VERB", required=True)
    _add_init(verbs)
    show = verbs.add_parser("show", help="validate a card (labels against the tokenizer) and print it")
    show.add_argument("--model", type=Path, required=True, help="checkpoint directory")
    show.set_defaults(handler=run_show)


def _add_init(verbs: argparse._SubParsersAction) -> None:
    p = verbs.add_parser(
        "init",
        help="write slmrank.json into a checkpoint directory",
        epilog=INIT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = PromptConfig()
    p.add_argument("--model", type=Path, required=True, help="HF causal-LM directory (config.json + tokenizer)")
    p.add_argument("--task", action="append", required=True, metavar="NAME", help="task name (repeatable)")
    p.add_argument("--instruction", action="append", required=True, metavar="TEXT", help="opens the member prefix")
    p.add_argument("--question", action="append", required=True, metavar="TEXT", help="closes each candidate")
    p.add_argument("--labels", action="append", nargs=2, required=True, metavar=("POS", "NEG"), help="label strings")
    p.add_argument("--max-prefix-len", type=int, default=defaults.max_prefix_len, help="member prefix budget, tokens")
    p.add_argument("--max-profile-len", type=int, default=defaults.max_profile_len, help="profile budget, tokens")
    p.add_argument("--max-item-len", type=int, default=defaults.max_item_len, help="history line budget, tokens")
    p.add_argument("--max-candidate-len", type=int, default=defaults.max_candidate_len, help="candidate budget")
    p.add_argument("--no-bos", action="store_true", help="do not start prompts with the tokenizer's BOS token")
    p.add_argument("--name", help="model name reported by the service (default: the directory name)")
    contract = InputContract()
    p.add_argument("--item-format", default=contract.item, help="how a client writes an item (input contract)")
    p.add_argument("--action-format", default=contract.action, help="how a client writes an action")
    p.add_argument("--profile-format", default=contract.profile, help="how a client writes a profile")
    p.add_argument("--force", action="store_true", help=f"overwrite an existing {CARD_FILE}")
    p.set_defaults(handler=run_init)


def card_from_args(args: argparse.Namespace) -> ModelCard:
    """The card the init flags describe; CardError on inconsistent groups or values."""
    counts = {len(args.task), len(args.instruction), len(args.question), len(args.labels)}
    if len(counts) != 1:
        raise CardError("give --task, --instruction, --question and --labels once per task, in the same order")
    tasks = tuple(
        Task(name, instruction, question, labels[0], labels[1])
        for name, instruction, question, labels in zip(
            args.task, args.instruction, args.question, args.labels, strict=True
        )
    )
    raw = {
        "model_name": args.name or args.model.resolve().name,
        "tasks": [t.to_dict() for t in tasks],
        "prompt": {
            "max_prefix_len": args.max_prefix_len,
            "max_profile_len": args.max_profile_len,
            "max_item_len": args.max_item_len,
            "max_candidate_len": args.max_candidate_len,
            "add_bos": not args.no_bos,
        },
        "input": {"item": args.item_format, "action": args.action_format, "profile": args.profile_format},
    }
    return ModelCard.from_dict(raw)  # the same validation a loaded card gets


def check_labels(card: ModelCard, model_dir: Path) -> None:
    """Every task's labels are single tokens of the checkpoint's tokenizer (LabelTokenError names the label)."""
    from ranking.labels import resolve_all
    from ranking.model_loader import load_tokenizer

    tokenizer, vocab_size, _ = load_tokenizer(model_dir)
    resolve_all(tokenizer, card.tasks, vocab_size)


def run_init(args: argparse.Namespace) -> int:
    from ranking.labels import LabelTokenError
    from ranking.model_loader import CheckpointError

    target = args.model / CARD_FILE
    try:
        if target.exists() and not args.force:
            raise CardError(f"{target} exists; pass --force to overwrite it")
        card = card_from_args(args)
        check_labels(card, args.model)
    except (CardError, LabelTokenError, CheckpointError) as exc:
        print(f"slmrank card init: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {card.save(args.model)} (tasks: {', '.join(card.task_names)})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    from ranking.labels import LabelTokenError
    from ranking.model_loader import CheckpointError

    try:
        card = ModelCard.load(args.model)
        check_labels(card, args.model)
    except (CardError, LabelTokenError, CheckpointError) as exc:
        print(f"slmrank card show: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(card.to_dict(), indent=2, ensure_ascii=False))
    return 0
