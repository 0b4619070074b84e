"""One home for the demo's task texts: the shipped card (models/default/slmrank.json) and the MovieLens-specific
training code that writes it. No other Python file may carry a copy of an instruction or a question."""

from pathlib import Path

from ranking.card import ModelCard

ROOT = Path(__file__).resolve().parents[1]
SOURCE_DIRS = ("ranking", "service", "training", "compression", "loadtest", "slmrank", "tests", "bench", "scripts")
MOVIELENS_CODE = {"training/data/movielens_tasks.py", "tests/test_task_text_home.py"}  # and this check
FRAGMENTS = ("the candidate movie",)  # what a composed copy of the instruction would still spell out


def forbidden_texts() -> set[str]:
    card = ModelCard.load(ROOT / "models" / "default")
    return {t.instruction for t in card.tasks} | {t.question for t in card.tasks} | set(FRAGMENTS)


def test_movie_task_texts_live_only_in_the_card_and_movielens_code() -> None:
    texts = forbidden_texts()
    offenders = []
    for folder in SOURCE_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in MOVIELENS_CODE or ".venv" in rel:
                continue
            source = path.read_text()
            offenders += [f"{rel}: {text!r}" for text in texts if text in source]
    assert offenders == []


def test_the_check_would_see_a_copy() -> None:
    card = ModelCard.load(ROOT / "models" / "default")
    assert card.tasks[0].question in (ROOT / "models" / "default" / "slmrank.json").read_text()
    assert "the candidate movie" in card.tasks[0].instruction
