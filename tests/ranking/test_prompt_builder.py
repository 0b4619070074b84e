from functools import lru_cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranking.member import Candidate, Interaction, Member
from ranking.prompt_builder import PromptBuilder, PromptConfig, ordered_history
from ranking.prompt_template import render_profile
from tests.tiny_checkpoint import TASKS, make_tokenizer


@lru_cache(maxsize=1)
def tokenizer():
    return make_tokenizer(seed=1)


text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60)
interactions = st.builds(
    Interaction,
    item=text,
    action=st.sampled_from(["liked", "rated 4.5", "disliked", "watched"]),
    timestamp=st.one_of(st.none(), st.integers(0, 2_000_000_000)),
)
members = st.builds(
    Member,
    id=st.text(min_size=1, max_size=10),
    profile=st.one_of(st.none(), text, st.dictionaries(st.text(min_size=1, max_size=8), text, max_size=3)),
    history=st.lists(interactions, max_size=40).map(tuple),
)
configs = st.builds(
    PromptConfig,
    max_prefix_len=st.integers(160, 600),
    max_profile_len=st.integers(1, 64),
    max_item_len=st.integers(1, 40),
    max_candidate_len=st.integers(1, 40),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    member=members,
    cands_a=st.lists(text, min_size=1, max_size=6),
    cands_b=st.lists(text, min_size=1, max_size=6),
    config=configs,
    task=st.sampled_from(sorted(TASKS)),
)
def test_prefix_is_token_identical_for_every_candidate(member, cands_a, cands_b, config, task) -> None:
    builder = PromptBuilder(tokenizer(), config)
    a = builder.build(member, [Candidate(str(i), t) for i, t in enumerate(cands_a)], TASKS[task])
    b = builder.build(member, cands_b, TASKS[task])
    # The prefix does not depend on which (or how many) candidates are ranked...
    assert a.prefix_ids == b.prefix_ids
    # ...every full prompt starts with it, token for token...
    for i in range(len(cands_a)):
        assert a.full_prompt(i)[: len(a.prefix_ids)] == list(a.prefix_ids)
    # ...and it respects its budget.
    assert len(a.prefix_ids) <= config.max_prefix_len
    assert a.prompt_tokens == sum(len(a.prefix_ids) + len(s) for s in a.suffix_ids)


@settings(max_examples=40, deadline=None)
@given(member=members, config=configs)
def test_truncation_keeps_a_contiguous_most_recent_window(member, config) -> None:
    builder = PromptBuilder(tokenizer(), config)
    prefix, shown = builder.member_prefix(member, TASKS["like"])
    assert builder.member_prefix(member, TASKS["like"]) == (prefix, shown)  # deterministic
    history = ordered_history(member.history)
    lines = [builder._history_line(h) for h in history[len(history) - shown :]] if shown else []
    body = [t for line in lines for t in line]
    assert shown <= len(history)
    if shown:
        assert prefix[len(prefix) - len(body) :] == body  # the newest `shown` lines, in order, end the prefix


def test_candidate_suffix_ends_with_the_question() -> None:
    builder = PromptBuilder(tokenizer())
    suffix = builder.candidate_suffix(Candidate("m", "Heat (1995) | Action|Crime|Thriller"), TASKS["like"])
    decoded = tokenizer().decode(suffix)
    assert decoded.startswith("Candidate: Heat (1995)")
    assert decoded.endswith(f"{TASKS['like'].question} Answer:")


def test_history_is_ordered_by_timestamp_when_complete() -> None:
    h = (Interaction("b", "liked", 20), Interaction("a", "liked", 10), Interaction("c", "liked", 20))
    assert [x.item for x in ordered_history(h)] == ["a", "b", "c"]
    partial = (Interaction("b", "liked", 20), Interaction("a", "liked", None))
    assert [x.item for x in ordered_history(partial)] == ["b", "a"]


def test_profile_fields_render_in_given_order() -> None:
    assert render_profile({"genres": ["Drama", "Comedy"], "avg": 3.5}) == "genres: Drama, Comedy; avg: 3.5"
    assert render_profile(None) == "unknown"
    assert render_profile("  ") == "unknown"


def test_budget_drops_the_oldest_history_first() -> None:
    history = tuple(Interaction(f"Movie number {i}", "liked", i) for i in range(200))
    builder = PromptBuilder(tokenizer(), PromptConfig(max_prefix_len=200, max_profile_len=16))
    prefix, shown = builder.member_prefix(Member("u", "p", history), TASKS["like"])
    assert 0 < shown < 200
    text_out = tokenizer().decode(prefix)
    assert "Movie number 199" in text_out and "Movie number 0\n" not in text_out


def test_invalid_config_is_rejected() -> None:
    with pytest.raises(ValueError):
        PromptConfig(max_prefix_len=50, max_profile_len=40)


def test_rates_render_in_five_percent_steps_and_refuse_the_impossible() -> None:
    from ranking.prompt_template import rate_text, shown_rates

    assert [rate_text(r) for r in (0.0, 0.024, 0.026, 0.723, 1.0)] == ["0%", "0%", "5%", "70%", "100%"]
    assert [rate_text(r) for r in shown_rates()] == [f"{p}%" for p in range(0, 101, 5)]
    with pytest.raises(ValueError, match="label rate"):
        rate_text(1.2)


def test_a_label_rates_prompt_equals_the_rendered_text_and_needs_the_task_rate() -> None:
    from ranking import prompt_template as tpl

    tok = make_tokenizer()
    builder = PromptBuilder(tok, PromptConfig(max_prefix_len=512, label_rates=True))
    task = TASKS["like"]
    history = (Interaction("Heat (1995) | Action|Crime|Thriller", "rated 4.5", 1),)
    member = Member("u1", {"average rating": "3.9"}, history, {"like": 0.31})
    cand = Candidate("m1", "Casino (1995) | Crime|Drama", label_rates={"like": 0.88, "love": 0.2})
    prompt = builder.build(member, [cand], task)
    text = tpl.prefix_text(task.instruction, member.profile, [("rated 4.5", history[0].item)], 0.31)
    encode = lambda t: tok.encode(t, add_special_tokens=False)  # noqa: E731
    assert list(prompt.prefix_ids) == [tok.bos_token_id, *encode(text)]
    assert list(prompt.suffix_ids[0]) == encode(tpl.suffix_text(cand.text, task.question, 0.88))
    assert "30%" in text and "90%" in tpl.suffix_text(cand.text, task.question, 0.88)
    plain = PromptBuilder(tok, PromptConfig(max_prefix_len=512)).build(member, [cand], task)
    assert plain.prefix_ids != prompt.prefix_ids and plain.suffix_ids != prompt.suffix_ids
    with pytest.raises(ValueError, match="candidate m1 needs label_rates\\['love'\\]"):
        builder.build(Member("u1", None, history, {"love": 0.5}), [Candidate("m1", "x", label_rates={})], TASKS["love"])


def test_a_similar_rates_prompt_adds_its_line_after_the_item_rate_and_needs_it() -> None:
    from ranking import prompt_template as tpl

    tok = make_tokenizer()
    builder = PromptBuilder(tok, PromptConfig(max_prefix_len=512, label_rates=True, similar_rates=True))
    task = TASKS["like"]
    history = (Interaction("Heat (1995) | Action|Crime|Thriller", "rated 4.5", 1),)
    member = Member("u1", None, history, {"like": 0.31})
    cand = Candidate("m1", "Casino (1995) | Crime|Drama", label_rates={"like": 0.88}, similar_rates={"like": 0.12})
    suffix = builder.build(member, [cand], task).suffix_ids[0]
    text = tpl.suffix_text(cand.text, task.question, 0.88, 0.12)
    assert list(suffix) == tok.encode(text, add_special_tokens=False)
    assert text.index("members: 90%") < text.index("similar items: 10%") < text.index(task.question)
    with pytest.raises(
        ValueError, match=r"this model shows similar_rates: the candidate m1 needs similar_rates\['like'\]"
    ):
        builder.build(member, [Candidate("m1", "x", label_rates={"like": 0.5})], task)
