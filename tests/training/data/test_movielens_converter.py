"""MovieLens -> the dataset format: labels per task, rating actions, time-consistent profile snapshots, round trip."""

from __future__ import annotations

from pathlib import Path

from training.data.dataset_reader import load_dataset
from training.data.movielens_converter import movielens_dataset
from training.data.movielens_profile import profile_from_ratings


def test_interactions_carry_actions_and_labels(movielens) -> None:
    data = movielens_dataset(movielens)
    assert [t.name for t in data.spec.tasks] == ["like", "love"]
    for user_id, ratings in movielens.user_ratings.items():
        events = data.member_events[str(user_id)]
        assert [e.item_id for e in events] == [str(r.movie_id) for r in ratings]
        for e, r in zip(events, ratings, strict=True):
            assert e.action == f"rated {r.rating:.1f}"
            assert e.labels == {"like": int(r.rating >= 4.0), "love": int(r.rating >= 4.5)}


def test_snapshots_only_summarise_earlier_seconds(movielens) -> None:
    data = movielens_dataset(movielens)
    for user_id, ratings in movielens.user_ratings.items():
        for r in ratings:
            earlier = [x for x in ratings if x.timestamp < r.timestamp]
            assert data.profile_at(str(user_id), r.timestamp) == profile_from_ratings(earlier, movielens.movies)
        assert data.profile_at(str(user_id), ratings[0].timestamp - 1) is None


def test_round_trip_through_files(movielens, tmp_path: Path) -> None:
    data = movielens_dataset(movielens)
    loaded = load_dataset(data.save(tmp_path / "ml"))
    assert loaded.spec == data.spec
    assert loaded.items == data.items
    assert {
        m: [(e.item_id, e.timestamp, e.action, dict(e.labels)) for e in es] for m, es in loaded.member_events.items()
    } == {m: [(e.item_id, e.timestamp, e.action, dict(e.labels)) for e in es] for m, es in data.member_events.items()}
    assert loaded.profiles == data.profiles
    assert list(loaded.member_events) == list(data.member_events)  # member order survives (sampling depends on it)
