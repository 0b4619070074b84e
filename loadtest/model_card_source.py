"""Where the load tester gets the served model's card: a checkpoint directory, or the gateway's GET /v1/models.

The card holds the task texts the prompts are built from (ranking/card.py), so the load tester never keeps a
copy of them. Engine-direct targets (SGLang, vLLM) have no card endpoint: they need `--model DIR`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from ranking.card import CardError, ModelCard
from ranking.tasks import Task

MODELS_PATH = "/v1/models"


def card_from_models_list(payload: Any, model: str | None) -> ModelCard:
    """The card of `model` (or of the gateway's default, listed first) in a GET /v1/models answer."""
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{MODELS_PATH} answer lists no models")
    if model is not None:
        entries = [e for e in entries if isinstance(e, dict) and e.get("id") == model]
        if not entries:
            raise ValueError(f"the gateway serves no model named {model!r}")
    entry = entries[0]
    if not isinstance(entry, dict) or "card" not in entry:
        raise ValueError(f"{MODELS_PATH} entry has no card (is the target an slmrank gateway?)")
    try:
        return ModelCard.from_dict(entry["card"])
    except CardError as exc:
        raise ValueError(f"{MODELS_PATH}: model {entry.get('id')!r}: {exc}") from None


def fetch_gateway_card(
    url: str, api_key: str | None = None, model: str | None = None, wait_s: float = 0.0
) -> ModelCard:
    """GET /v1/models from the gateway at `url`, retrying for up to `wait_s` while it starts."""
    headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
    deadline = time.monotonic() + wait_s
    while True:
        try:
            response = httpx.get(url.rstrip("/") + MODELS_PATH, headers=headers, timeout=10.0, trust_env=False)
            if response.status_code == 200:
                return card_from_models_list(response.json(), model)
            error: Exception = RuntimeError(f"{url}{MODELS_PATH} answered HTTP {response.status_code}")
        except httpx.HTTPError as exc:
            error = exc
        if time.monotonic() >= deadline:
            raise error
        time.sleep(1.0)


@dataclass(frozen=True)
class CardTask:
    """The task to load-test and whether the model shows label / similar-items rates (engine-direct prompts
    render them)."""

    task: Task
    label_rates: bool
    similar_rates: bool = False


def task_for(args: argparse.Namespace) -> CardTask:
    """The task to load-test: --task of the card from --model DIR, else from the gateway at --url."""
    if args.model is not None:
        card = ModelCard.load(Path(args.model))
    elif args.target == "gateway":
        card = fetch_gateway_card(args.url, args.api_key, args.model_name, args.wait_ready_s)
    else:
        raise ValueError(f"--target {args.target} has no model card endpoint: give --model DIR (the checkpoint)")
    try:
        prompt = card.prompt
        return CardTask(card.task(args.task or card.default_task), prompt.label_rates, prompt.similar_rates)
    except KeyError as exc:
        raise ValueError(str(exc.args[0])) from None
