"""A Locust file for teams that already run Locust: the same MovieLens ranking requests to `POST /rank`.

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --lt-k 8 --lt-context-tokens 1024 \\
        --lt-repeat-fraction 0.5 --lt-rate-per-user 1

This is an extra, not the measurement. Locust users are a closed loop (`constant_throughput` only caps the
rate: a slow response delays that user's next request, i.e. coordinated omission), and Locust rounds response
times before taking percentiles. For P50/P99 TTFT use `slmrank loadtest run|sweep`. Install Locust yourself
(`pip install locust`); slmrank does not depend on it.
"""

from __future__ import annotations

from typing import Any

from locust import HttpUser, constant_throughput, events, task

from loadtest.model_card_source import MODELS_PATH, card_from_models_list
from loadtest.movielens import MovieLens
from loadtest.workload import Workload, WorkloadConfig


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    parser.add_argument("--lt-k", type=int, default=8, help="candidates per member")
    parser.add_argument("--lt-context-tokens", type=int, default=1024, help="target prompt tokens")
    parser.add_argument("--lt-repeat-fraction", type=float, default=0.0, help="share of repeat (hot) members")
    parser.add_argument("--lt-chars-per-token", type=float, default=4.0, help="chars per token estimate")
    parser.add_argument("--lt-rate-per-user", type=float, default=1.0, help="requests/s per user (a cap)")
    parser.add_argument("--lt-data-dir", default="data/movielens-latest-small", help="MovieLens directory")
    parser.add_argument("--lt-task", default=None, help="a task of the served model's card (default: its first)")


class RankUser(HttpUser):
    """Each user draws its own members and candidates; seeds differ per user."""

    wait_time = constant_throughput(1.0)
    _num_users = 0
    _data: MovieLens | None = None  # read once per Locust worker, shared by its users

    def on_start(self) -> None:
        opts = self.environment.parsed_options
        RankUser._num_users += 1
        self.wait_time = constant_throughput(opts.lt_rate_per_user)
        card = card_from_models_list(self.client.get(MODELS_PATH).json(), None)  # the task texts come from the card
        config = WorkloadConfig(
            task=card.task(opts.lt_task or card.default_task),
            label_rates=card.prompt.label_rates,
            similar_rates=card.prompt.similar_rates,
            k=opts.lt_k,
            context_tokens=opts.lt_context_tokens,
            repeat_fraction=opts.lt_repeat_fraction,
            chars_per_token=opts.lt_chars_per_token,
            namespace=f"locust{RankUser._num_users}",
            seed=RankUser._num_users,
        )
        if RankUser._data is None:
            RankUser._data = MovieLens.load(opts.lt_data_dir)
        self.workload = Workload(RankUser._data, config)

    @task
    def rank(self) -> None:
        item = self.workload.next_item()
        name = f"/rank k={len(item.candidates)} {'hot' if item.is_repeat else 'cold'}"
        with self.client.post("/rank", json=item.rank_body(), name=name, catch_response=True) as response:
            if response.status_code == 200 and len(response.json().get("ranked", [])) != len(item.candidates):
                response.failure("fewer scores than candidates")
