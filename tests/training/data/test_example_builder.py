"""Training and evaluation prompts: built by the service's PromptBuilder token for token, and leak-free."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig
from tests.tiny_checkpoint import TASKS
from tests.training.conftest import synthetic_movielens
from training.data.dataset import Dataset
from training.data.example_builder import ExampleBuilder
from training.data.movielens import MovieLens
from training.data.movielens_converter import movielens_dataset
from training.data.movielens_profile import profile_from_ratings
from training.data.movielens_tasks import movielens_task
from training.data.split import ChronologicalSplit

CONFIG = PromptConfig(max_prefix_len=160, max_profile_len=48, max_item_len=32, max_candidate_len=40)


@pytest.fixture(scope="module")
def examples(split, tokenizer) -> ExampleBuilder:
    return ExampleBuilder(split, tokenizer, CONFIG, ["like", "love"], group_size=4)


def request_member(user_id: int, history, profile_ratings, movies) -> Member:
    """The Member as a client's JSON request would carry it (what the service's /rank builds)."""
    body = {
        "id": str(user_id),
        "profile": profile_from_ratings(profile_ratings, movies),
        "history": [
            {"item": movies[r.movie_id].text, "action": f"rated {r.rating:.1f}", "timestamp": r.timestamp}
            for r in history
        ],
    }
    return Member(body["id"], body["profile"], tuple(Interaction(**h) for h in body["history"]))


def before_second(ratings, index: int):
    """The ratings a profile snapshot at ratings[index]'s second summarises: those strictly before that second."""
    return [r for r in ratings if r.timestamp < ratings[index].timestamp]


def test_training_prompt_equals_service_prompt(examples: ExampleBuilder, movielens, tokenizer) -> None:
    ratings = movielens.user_ratings[3]
    group = examples.train_group("3", 6, "love")
    member = request_member(3, ratings[:6], before_second(ratings, 6), movielens.movies)
    cands = [Candidate(str(r.movie_id), movielens.movies[r.movie_id].text) for r in ratings[6:10]]
    served = PromptBuilder(tokenizer, CONFIG).build(member, cands, TASKS["love"])
    assert group.prefix_ids == served.prefix_ids
    assert group.suffix_ids == served.suffix_ids
    assert group.labels == tuple(movielens_task("love").is_positive(r.rating) for r in ratings[6:10])


def test_eval_prompt_equals_service_prompt(examples: ExampleBuilder, movielens, split, tokenizer) -> None:
    groups = [g for g in examples.eval_groups("test", "like") if g.member_id == "2"]
    ratings, test_start = movielens.user_ratings[2], split.members["2"].test_start
    member = request_member(2, ratings[:test_start], before_second(ratings, test_start), movielens.movies)
    cands = [Candidate(str(r.movie_id), movielens.movies[r.movie_id].text) for r in ratings[test_start:]]
    served = PromptBuilder(tokenizer, CONFIG).build(member, cands, TASKS["like"])
    assert groups[0].prefix_ids == served.prefix_ids
    assert tuple(s for g in groups for s in g.suffix_ids) == served.suffix_ids


def with_future_changed(data: MovieLens, user_id: int, start: int) -> Dataset:
    """The same data but user_id's ratings from index `start` on flipped (5.5 - r) and shifted later."""
    ratings = []
    for u, rs in data.user_ratings.items():
        for i, r in enumerate(rs):
            if u == user_id and i >= start:
                r = dataclasses.replace(r, rating=5.5 - r.rating, timestamp=r.timestamp + 10**6)
            ratings.append(r)
    return movielens_dataset(MovieLens(data.movies, ratings, data.checksums))


def test_training_prefix_never_sees_its_targets_or_later(movielens, tokenizer) -> None:
    cutoff = 7
    a = ExampleBuilder(ChronologicalSplit(movielens_dataset(movielens)), tokenizer, CONFIG, ["like"], group_size=4)
    b = ExampleBuilder(ChronologicalSplit(with_future_changed(movielens, 5, cutoff)), tokenizer, CONFIG, ["like"], 4)
    ga, gb = a.train_group("5", cutoff, "like"), b.train_group("5", cutoff, "like")
    assert ga.prefix_ids == gb.prefix_ids  # history and profile come from before the cutoff only
    assert ga.labels != gb.labels  # ...while the targets themselves did change


def test_test_profile_never_sees_the_test_period(movielens, tokenizer) -> None:
    split = ChronologicalSplit(movielens_dataset(movielens))
    test_start = split.members["4"].test_start
    changed = ExampleBuilder(
        ChronologicalSplit(with_future_changed(movielens, 4, test_start)), tokenizer, CONFIG, ["like"]
    )
    member = changed.member_for(changed.split.members["4"], "test")
    ratings = movielens.user_ratings[4]
    assert member.profile == profile_from_ratings(before_second(ratings, test_start), movielens.movies)
    assert len(member.history) == test_start


def test_test_prompts_show_only_the_past(examples: ExampleBuilder, split) -> None:
    for periods in split.members.values():
        member = examples.member_for(periods, "test")
        last_shown = max(h.timestamp for h in member.history)
        assert all(e.timestamp >= last_shown for e in periods.test)


def test_train_groups_are_seeded(examples: ExampleBuilder) -> None:
    a = examples.train_groups(np.random.default_rng([1, 2]), 5)
    b = examples.train_groups(np.random.default_rng([1, 2]), 5)
    assert a == b
    assert {g.task for g in examples.train_groups(np.random.default_rng(0), 40)} == {"like", "love"}


def test_cutoff_outside_train_is_rejected(examples: ExampleBuilder, split) -> None:
    with pytest.raises(ValueError):
        examples.train_group("1", split.members["1"].val_start, "like")


def test_unknown_task_names_the_dataset_tasks(split, tokenizer) -> None:
    with pytest.raises(KeyError, match="like"):
        ExampleBuilder(split, tokenizer, CONFIG, ["hired"])


def test_labels_single_tokens(tokenizer) -> None:
    for s in (" Yes", " No", " True", " False"):
        assert len(tokenizer.encode(s, add_special_tokens=False)) == 1


def test_synthetic_fixture_is_deterministic() -> None:
    assert synthetic_movielens().user_ratings == synthetic_movielens().user_ratings
