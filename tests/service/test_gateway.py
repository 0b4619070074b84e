"""Gateway.pick: named model, policy assignment, and a model whose engines are down failing only its own members."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from ranking.variant_policy import VariantPolicy
from service.errors import RequestRejectedError
from service.gateway import Gateway, ServedModel
from service.models_config import ModelsConfig


def fake_ranker(is_ready: bool) -> SimpleNamespace:
    return SimpleNamespace(scorer=SimpleNamespace(is_ready=lambda: is_ready))


def gateway(is_b_ready: bool) -> Gateway:
    config = ModelsConfig.model_validate({"models": [{"model_dir": "a", "weight": 1}, {"model_dir": "b", "weight": 1}]})
    served = [
        ServedModel("a", config.models[0], fake_ranker(True)),  # type: ignore[arg-type]
        ServedModel("b", config.models[1], fake_ranker(is_b_ready)),  # type: ignore[arg-type]
    ]
    return Gateway(served, config, None)  # type: ignore[arg-type]


def test_pick_follows_the_policy_or_the_request() -> None:
    gw = gateway(is_b_ready=True)
    policy = VariantPolicy.from_mapping({"a": 1, "b": 1})
    for i in range(50):
        served, variant = gw.pick(None, f"m{i}")
        assert served.name == variant == policy.assign(f"m{i}")
    served, variant = gw.pick("b", "m0")
    assert (served.name, variant) == ("b", "requested")


def test_a_model_that_cannot_score_fails_only_its_members() -> None:
    gw = gateway(is_b_ready=False)
    assert not gw.is_ready()
    policy = VariantPolicy.from_mapping({"a": 1, "b": 1})
    for i in range(50):
        member = f"m{i}"
        if policy.assign(member) == "a":
            assert gw.pick(None, member)[0].name == "a"
        else:
            with pytest.raises(RequestRejectedError) as err:
                gw.pick(None, member)
            assert err.value.status == 503 and err.value.code == "engine_unavailable"
