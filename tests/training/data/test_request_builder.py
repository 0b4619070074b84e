"""The /rank body a client builds gives the model exactly the prompt it was evaluated on."""

from __future__ import annotations

import dataclasses
import json

import pytest

from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig
from tests.tiny_checkpoint import TASKS
from training.data.example_builder import ExampleBuilder
from training.data.request_builder import rank_request

CONFIG = PromptConfig(max_prefix_len=160, max_profile_len=48, max_item_len=32, max_candidate_len=40)


@pytest.mark.parametrize(("label_rates", "similar_rates"), [(False, False), (True, False), (True, True)])
def test_request_prompt_equals_evaluation_prompt(split, tokenizer, label_rates: bool, similar_rates: bool) -> None:
    config = dataclasses.replace(CONFIG, label_rates=label_rates, similar_rates=similar_rates)
    body = json.loads(json.dumps(rank_request(split, "6", "love", num_candidates=50, max_history=200)))
    sent = body["member"]
    member = Member(sent["id"], sent["profile"], tuple(Interaction(**h) for h in sent["history"]), sent["label_rates"])
    cands = [
        Candidate(c["id"], c["text"], c["metadata"], c["label_rates"], c["similar_rates"]) for c in body["candidates"]
    ]
    assert all(set(c["similar_rates"]) == {"like", "love"} for c in body["candidates"])
    assert set(sent["label_rates"]) == {"like", "love"} and all(0 < r < 1 for r in sent["label_rates"].values())
    served = PromptBuilder(tokenizer, config).build(member, cands, TASKS[body["task"]])
    groups = [
        g for g in ExampleBuilder(split, tokenizer, config, ["love"]).eval_groups("test", "love") if g.member_id == "6"
    ]
    assert served.prefix_ids == groups[0].prefix_ids
    assert served.suffix_ids == tuple(s for g in groups for s in g.suffix_ids)
    assert [c["id"] for c in body["candidates"]] == [i for g in groups for i in g.item_ids]
    assert [c["metadata"]["labels"]["love"] for c in body["candidates"]] == [y for g in groups for y in g.labels]


def test_unknown_member_is_a_clear_error(split) -> None:
    with pytest.raises(KeyError, match="no member '10000'"):
        rank_request(split, "10000", "like")
