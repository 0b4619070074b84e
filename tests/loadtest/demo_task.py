"""The shipped model's default task, read from its card: what the load tester's tests build prompts with."""

from pathlib import Path

from ranking.card import ModelCard

DEMO_CARD = ModelCard.load(Path(__file__).resolve().parents[2] / "models" / "default")
DEMO_TASK = DEMO_CARD.task(DEMO_CARD.default_task)
