import pytest

from ranking.labels import LabelTokenError, resolve_all, resolve_label_tokens
from ranking.tasks import Task
from tests.tiny_checkpoint import TASKS


def test_every_task_label_is_one_token(tiny_loaded) -> None:
    labels = resolve_all(tiny_loaded.tokenizer, TASKS.values(), tiny_loaded.vocab_size)
    for name, lt in labels.items():
        task = TASKS[name]
        assert tiny_loaded.tokenizer.encode(task.positive_label, add_special_tokens=False) == [lt.positive_id]
        assert tiny_loaded.tokenizer.encode(task.negative_label, add_special_tokens=False) == [lt.negative_id]


def test_multi_token_label_is_rejected_at_startup(tiny_loaded) -> None:
    bad = Task("bad", "instr", "q?", " Absolutely-not-a-token", " No")
    with pytest.raises(LabelTokenError, match="exactly one"):
        resolve_label_tokens(tiny_loaded.tokenizer, bad, tiny_loaded.vocab_size)


def test_label_outside_model_vocab_is_rejected(tiny_loaded) -> None:
    with pytest.raises(LabelTokenError, match="vocab"):
        resolve_label_tokens(tiny_loaded.tokenizer, TASKS["like"], vocab_size=5)
