"""MovieLens ml-latest-small -> the project's dataset format (`slmrank data movielens --out DIR`).

Items are `Title (Year) | Genres`, actions `rated 4.5`, labels the demo's tasks (like: 4 stars or more, love:
4.5 or more). Profiles are time-consistent snapshots: one per member and distinct rating second, as_of that
second, summarising only the ratings strictly before it, so no example's profile sees its own or later ratings.
"""

from __future__ import annotations

from pathlib import Path

from training.data.dataset import Dataset, DatasetSpec, Event, Item, ProfileSnapshot
from training.data.movielens import DEFAULT_DATA_DIR, MovieLens, Rating
from training.data.movielens_profile import MOVIELENS_INPUT, ProfileAccumulator, rating_action
from training.data.movielens_tasks import MOVIELENS_TASKS

NAME = "movielens-latest-small"
LICENCE = (
    "MovieLens ml-latest-small (GroupLens Research, University of Minnesota; Harper & Konstan 2015, "
    "ACM TiiS 5(4)), research use only, non-commercial; derived results are distributed under the same terms."
)


def movielens_spec() -> DatasetSpec:
    """The demo dataset's name, licence, tasks and input contract."""
    return DatasetSpec(NAME, LICENCE, tuple(t.task for t in MOVIELENS_TASKS.values()), MOVIELENS_INPUT)


def movielens_dataset(data: MovieLens) -> Dataset:
    """The ratings as labelled interactions (members in userId order), with profile snapshots."""
    items = {str(m.id): Item(str(m.id), m.text) for m in data.movies.values()}
    events = [event(r) for ratings in data.user_ratings.values() for r in ratings]
    profiles = {str(u): snapshots(rs, data) for u, rs in data.user_ratings.items()}
    return Dataset(movielens_spec(), items, events, profiles, dict(data.checksums))


def event(r: Rating) -> Event:
    """One rating as an interaction labelled for every demo task."""
    labels = {name: int(task.is_positive(r.rating)) for name, task in MOVIELENS_TASKS.items()}
    return Event(str(r.user_id), str(r.movie_id), r.timestamp, rating_action(r.rating), labels)


def snapshots(ratings: list[Rating], data: MovieLens) -> list[ProfileSnapshot]:
    """A snapshot at every distinct rating second of one member, from the ratings strictly before it."""
    out = []
    known = ProfileAccumulator(data.movies)
    for i, r in enumerate(ratings):
        if i == 0 or ratings[i - 1].timestamp != r.timestamp:
            out.append(ProfileSnapshot(known.profile(), r.timestamp))
        known.add(r)
    return out


def convert(out_dir: str | Path, data_dir: str | Path = DEFAULT_DATA_DIR) -> Path:
    """Read the shipped (or given) MovieLens folder and write it in the dataset format."""
    return movielens_dataset(MovieLens.load(data_dir)).save(out_dir)
