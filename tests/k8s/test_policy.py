"""What a reviewer checks in the rendered manifests, on the real renders and on broken copies."""

import copy
from collections.abc import Callable
from typing import Any

import pytest

from tests.k8s import engine_policy as ep
from tests.k8s import policy as p

Obj = dict[str, Any]
EVERY = ("cpu", "h100", "h100-tp1", "h100-canary")
GPU = ("h100", "h100-tp1", "h100-canary")
# Checks that need the gateway and the engine pool in one render.
POOL = ("h100", "h100-tp1", "h100+canary")
CHECKS: dict[str, tuple[Callable[[list[Obj]], list[str]], tuple[str, ...]]] = {
    "resources": (p.check_resources, EVERY),
    "probes": (p.check_probes, EVERY),
    "non_root": (p.check_non_root, EVERY),
    "images_pinned": (p.check_images_pinned, EVERY),
    "selectors": (p.check_selectors, EVERY),
    "gpu_matches_tp": (p.check_gpu_matches_tp, GPU),
    "engine_probes": (ep.check_engine_probes, GPU),
    "engine_pod": (ep.check_engine_pod, GPU),
    "engine_flags": (ep.check_engine_flags, GPU),
    # The canary alone fills half a node; the stable sets fill whole ones.
    "node_fill": (ep.check_node_fill, ("h100", "h100-tp1")),
    "engine_service": (ep.check_engine_service, POOL),
    "engine_network_policy": (ep.check_engine_network_policy, POOL),
    "gateway_routing": (ep.check_gateway_routing, POOL),
}
CASES = [(name, overlay) for name, (_, overlays) in CHECKS.items() for overlay in overlays]


def drain_s(objects: list[Obj]) -> int:
    """The longest request a pod must finish on shutdown: the gateway's request timeout."""
    return int(ep.gateway_config(objects)["SLMRANK_REQUEST_TIMEOUT_S"])


@pytest.mark.parametrize(("check", "overlay"), CASES)
def test_render_passes(renders: dict[str, list[Obj]], check: str, overlay: str) -> None:
    assert CHECKS[check][0](renders[overlay]) == []


@pytest.mark.parametrize("overlay", ["cpu", "h100", "h100-tp1", "h100+canary"])
def test_grace_period_exceeds_prestop_and_drain(renders: dict[str, list[Obj]], overlay: str) -> None:
    objects = renders[overlay]
    assert p.check_grace_period(objects, drain_s(objects)) == []


def engine(objects: list[Obj]) -> Obj:
    """The stable engine Deployment of a render."""
    return p.find(objects, "Deployment", "sglang-engine")


def engine_container(objects: list[Obj]) -> Obj:
    """The engine container of the stable engine Deployment."""
    return ep.engine_container(engine(objects))


def gateway_container(objects: list[Obj]) -> Obj:
    """The gateway container."""
    return p.pod_spec(p.find(objects, "Deployment", "slmrank-gateway"))["containers"][0]


def drop_readiness(o: list[Obj]) -> None:
    del gateway_container(o)["readinessProbe"]


def drop_memory_limit(o: list[Obj]) -> None:
    del engine_container(o)["resources"]["limits"]["memory"]


def run_as_root(o: list[Obj]) -> None:
    p.pod_spec(engine(o))["securityContext"]["runAsUser"] = 0


def gpus_without_tp(o: list[Obj]) -> None:
    for kind in ("requests", "limits"):
        engine_container(o)["resources"][kind]["nvidia.com/gpu"] = 2


def short_grace(o: list[Obj]) -> None:
    p.pod_spec(engine(o))["terminationGracePeriodSeconds"] = 45


def latest_image(o: list[Obj]) -> None:
    engine_container(o)["image"] = "lmsysorg/sglang:latest"


def fast_readiness_timeout(o: list[Obj]) -> None:
    engine_container(o)["readinessProbe"]["timeoutSeconds"] = 1


def short_startup(o: list[Obj]) -> None:
    engine_container(o)["startupProbe"]["failureThreshold"] = 6


def disk_shm(o: list[Obj]) -> None:
    volume = next(v for v in p.pod_spec(engine(o))["volumes"] if v["name"] == "dshm")
    volume["emptyDir"] = {}


def burstable_init(o: list[Obj]) -> None:
    p.pod_spec(engine(o))["initContainers"][0]["resources"]["limits"]["cpu"] = "8"


def no_tolerations(o: list[Obj]) -> None:
    del p.pod_spec(engine(o))["tolerations"]


def no_radix_cache(o: list[Obj]) -> None:
    engine_container(o)["args"].append("--disable-radix-cache")


def not_headless(o: list[Obj]) -> None:
    p.find(o, "Service", "sglang-engine")["spec"]["clusterIP"] = "10.0.0.10"


def open_engines(o: list[Obj]) -> None:
    policy = p.find(o, "NetworkPolicy", "sglang-engine-ingress")
    policy["spec"]["ingress"].append({"ports": [{"port": 30000}]})


def wrong_dns(o: list[Obj]) -> None:
    ep.gateway_config(o)["SLMRANK_ENGINE_DNS"] = "sglang-engine:30000"


def stale_tokenizer(o: list[Obj]) -> None:
    ep.gateway_config(o)["SLMRANK_MODEL_DIR"] = "/models/store/v0"


def odd_replicas(o: list[Obj]) -> None:
    engine(o)["spec"]["replicas"] = 3


def hpa_on_nothing(o: list[Obj]) -> None:
    p.find(o, "HorizontalPodAutoscaler", "slmrank-gateway")["spec"]["scaleTargetRef"]["name"] = "gateway"


MUTATIONS: list[tuple[Callable[[list[Obj]], None], str, str]] = [
    (drop_readiness, "probes", "no readinessProbe"),
    (drop_memory_limit, "resources", "no limits for ['memory']"),
    (run_as_root, "non_root", "may run as root"),
    (gpus_without_tp, "gpu_matches_tp", "2 GPUs but --tp-size 4"),
    (latest_image, "images_pinned", "is not pinned"),
    (fast_readiness_timeout, "engine_probes", "readiness timeout"),
    (short_startup, "engine_probes", "startup budget 60s"),
    (disk_shm, "engine_pod", "/dev/shm is not a memory emptyDir"),
    (no_tolerations, "engine_pod", "no toleration"),
    (burstable_init, "engine_pod", "not Guaranteed QoS"),
    (no_radix_cache, "engine_flags", "forbidden --disable-radix-cache"),
    (odd_replicas, "node_fill", "leaves a node part-empty"),
    (not_headless, "engine_service", "not headless"),
    (open_engines, "engine_network_policy", "reachable from more than gateways"),
    (wrong_dns, "gateway_routing", "SLMRANK_ENGINE_DNS"),
    (stale_tokenizer, "gateway_routing", "gateway model dir"),
    (hpa_on_nothing, "selectors", "target gateway not rendered"),
]


@pytest.mark.parametrize(("mutate", "check", "expected"), MUTATIONS, ids=[m[0].__name__ for m in MUTATIONS])
def test_check_catches_a_broken_manifest(
    renders: dict[str, list[Obj]], mutate: Callable[[list[Obj]], None], check: str, expected: str
) -> None:
    objects = copy.deepcopy(renders["h100"])
    mutate(objects)
    problems = CHECKS[check][0](objects)
    assert any(expected in problem for problem in problems), problems


def test_grace_period_check_catches_a_short_grace(renders: dict[str, list[Obj]]) -> None:
    objects = copy.deepcopy(renders["h100"])
    short_grace(objects)
    problems = p.check_grace_period(objects, drain_s(objects))
    assert any("grace 45s <= preStop 30s + drain 30s" in x for x in problems), problems
