"""The /rank body a client builds gives the model exactly the prompt it was evaluated on."""

from __future__ import annotations

import json

import pytest

from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig
from tests.tiny_checkpoint import TASKS
from training.data.example_builder import ExampleBuilder
from training.data.request_builder import rank_request

CONFIG = PromptConfig(max_prefix_len=160, max_profile_len=48, max_item_len=32, max_candidate_len=40)


def test_request_prompt_equals_evaluation_prompt(split, tokenizer) -> None:
    body = json.loads(json.dumps(rank_request(split, "6", "love", num_candidates=50, max_history=200)))
    member = Member(
        body["member"]["id"], body["member"]["profile"], tuple(Interaction(**h) for h in body["member"]["history"])
    )
    cands = [Candidate(c["id"], c["text"], c["metadata"]) for c in body["candidates"]]
    served = PromptBuilder(tokenizer, CONFIG).build(member, cands, TASKS[body["task"]])
    groups = [
        g for g in ExampleBuilder(split, tokenizer, CONFIG, ["love"]).eval_groups("test", "love") if g.member_id == "6"
    ]
    assert served.prefix_ids == groups[0].prefix_ids
    assert served.suffix_ids == tuple(s for g in groups for s in g.suffix_ids)
    assert [c["id"] for c in body["candidates"]] == [i for g in groups for i in g.item_ids]
    assert [c["metadata"]["labels"]["love"] for c in body["candidates"]] == [y for g in groups for y in g.labels]


def test_unknown_member_is_a_clear_error(split) -> None:
    with pytest.raises(KeyError, match="no member '10000'"):
        rank_request(split, "10000", "like")
