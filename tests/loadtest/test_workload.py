"""Workloads from MovieLens: context sizing, hot vs cold members, candidates, determinism."""

from __future__ import annotations

import dataclasses

import pytest

from loadtest.movielens import MovieLens
from loadtest.prompt_text import prefix_text
from loadtest.workload import Workload, WorkloadConfig
from tests.loadtest.demo_task import DEMO_TASK


@pytest.mark.parametrize("context_tokens", [128, 1024, 8192])
def test_prompt_length_tracks_the_target(movielens: MovieLens, context_tokens: int) -> None:
    cpt = 3.5
    items = Workload(
        movielens, WorkloadConfig(task=DEMO_TASK, k=2, context_tokens=context_tokens, chars_per_token=cpt)
    ).items(20)
    for item in items:
        for text in item.prompt_texts():
            # Whole history lines only, so a prompt falls short of the target by at most ~one line.
            assert context_tokens * cpt - 250 <= len(text) <= context_tokens * cpt + 80


def test_long_context_keeps_the_members_own_recent_history_last(movielens: MovieLens) -> None:
    workload = Workload(movielens, WorkloadConfig(task=DEMO_TASK, context_tokens=16_000))
    uid = movielens.member_ids[0]
    member = workload.build_member(uid)
    own = [movielens.movies[r.movie_id] for r in movielens.ratings[uid]]
    assert [h.item for h in member.history[-len(own) :]] == own
    stamps = [h.timestamp for h in member.history]
    assert stamps == sorted(stamps)


def test_short_context_keeps_only_the_most_recent_history(movielens: MovieLens) -> None:
    uid = max(movielens.member_ids, key=lambda m: len(movielens.ratings[m]))
    member = Workload(movielens, WorkloadConfig(task=DEMO_TASK, context_tokens=256)).build_member(uid)
    own = [movielens.movies[r.movie_id] for r in movielens.ratings[uid]]
    assert 0 < len(member.history) < len(own)
    assert [h.item for h in member.history] == own[-len(member.history) :]


def test_cold_members_never_repeat_a_prefix(movielens: MovieLens) -> None:
    items = Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=1, repeat_fraction=0.0, context_tokens=128)).items(
        len(movielens.member_ids) + 20  # past the last member: a new cohort
    )
    prefixes = {prefix_text(i.member.profile, i.member.history, i.task) for i in items}
    assert len(prefixes) == len(items)
    assert len({i.member.id for i in items}) == len(items)
    assert not any(i.is_repeat for i in items)


def test_hot_members_repeat_with_identical_prefix(movielens: MovieLens) -> None:
    items = Workload(
        movielens, WorkloadConfig(task=DEMO_TASK, k=3, repeat_fraction=0.8, context_tokens=256, seed=4)
    ).items(500)
    repeats = [i for i in items if i.is_repeat]
    assert 0.75 <= len(repeats) / len(items) <= 0.85
    first_seen = {}
    for item in items:
        body = item.rank_body()["member"]
        if item.member.id in first_seen:
            assert item.is_repeat and body == first_seen[item.member.id]
        else:
            assert not item.is_repeat
            first_seen[item.member.id] = body


def test_candidates_are_k_unrated_distinct_movies(movielens: MovieLens) -> None:
    for item in Workload(movielens, WorkloadConfig(task=DEMO_TASK, k=32, context_tokens=512)).items(30):
        ids = [int(cid[1:]) for cid, _ in item.candidates]
        assert len(ids) == len(set(ids)) == 32
        assert not set(ids) & item.member.rated_ids
        assert {t for _, t in item.candidates}.isdisjoint(h.item for h in item.member.history)


def test_same_seed_same_requests(movielens: MovieLens) -> None:
    cfg = WorkloadConfig(task=DEMO_TASK, k=4, repeat_fraction=0.5, context_tokens=300, seed=7)
    a = [i.rank_body() for i in Workload(movielens, cfg).items(30)]
    b = [i.rank_body() for i in Workload(movielens, cfg).items(30)]
    assert a == b


@pytest.mark.parametrize("kwargs", [{"k": 0}, {"context_tokens": 10}, {"repeat_fraction": 1.5}, {"chars_per_token": 0}])
def test_bad_config_is_refused(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        WorkloadConfig(task=DEMO_TASK, **kwargs)


def test_missing_data_dir_names_the_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"movies\.csv"):
        MovieLens.load(tmp_path)


def test_requests_carry_rates_and_engine_prompts_show_them_only_for_rate_models(movielens: MovieLens) -> None:
    from ranking import prompt_template as tpl

    base = WorkloadConfig(task=DEMO_TASK, k=3, context_tokens=256)
    plain = Workload(movielens, base).items(1)[0]
    rated = Workload(movielens, dataclasses.replace(base, label_rates=True)).items(1)[0]
    body = rated.rank_body()
    assert 0 <= body["member"]["label_rates"][DEMO_TASK.name] <= 1
    assert all(0 <= c["label_rates"][DEMO_TASK.name] <= 1 for c in body["candidates"])
    assert body == plain.rank_body()  # the same request either way: models without rates ignore them
    assert not any(tpl.ITEM_RATE_PREFIX in p or tpl.MEMBER_RATE_PREFIX in p for p in plain.prompt_texts())
    assert all(p.count(tpl.ITEM_RATE_PREFIX) == 1 and tpl.MEMBER_RATE_PREFIX in p for p in rated.prompt_texts())
