"""Every overlay renders with `kubectl kustomize`, and the rendered objects fit together."""

from collections import Counter
from typing import Any

import pytest

from tests.k8s.conftest import OVERLAYS
from tests.k8s.policy import find, pod_spec, selector_matches, template_labels, workloads

Obj = dict[str, Any]
NAMESPACE = "slmrank"
CLUSTER_SCOPED = {"Namespace"}
# Created outside the manifests on purpose (docs/deploy.md): the real API keys never live in git,
# and the canary reuses the h100 overlay's model volume.
EXTERNAL = {
    "h100": {("Secret", "slmrank-api-keys")},
    "h100-tp1": {("Secret", "slmrank-api-keys")},
    "h100+canary": {("Secret", "slmrank-api-keys")},
}


def named(objects: list[Obj], kind: str) -> set[str]:
    """Names of the rendered objects of one kind."""
    return {o["metadata"]["name"] for o in objects if o["kind"] == kind}


def references(workload: Obj) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap, Secret, PVC and ServiceAccount a pod template uses."""
    spec = pod_spec(workload)
    refs = {("ServiceAccount", spec.get("serviceAccountName", "default"))}
    for v in spec.get("volumes", []):
        if "persistentVolumeClaim" in v:
            refs.add(("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]))
    for c in [*spec.get("initContainers", []), *spec["containers"]]:
        for source in c.get("envFrom", []):
            if "configMapRef" in source:
                refs.add(("ConfigMap", source["configMapRef"]["name"]))
            if "secretRef" in source:
                refs.add(("Secret", source["secretRef"]["name"]))
    return refs


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_renders_into_one_namespace(renders: dict[str, list[Obj]], overlay: str) -> None:
    objects = renders[overlay]
    assert objects, f"{overlay} rendered nothing"
    for o in objects:
        if o["kind"] not in CLUSTER_SCOPED:
            assert o["metadata"].get("namespace") == NAMESPACE, f"{o['kind']} {o['metadata']['name']}"
    duplicates = [k for k, n in Counter((o["kind"], o["metadata"]["name"]) for o in objects).items() if n > 1]
    assert not duplicates


@pytest.mark.parametrize("overlay", ["cpu", "h100", "h100-tp1", "h100+canary"])
def test_every_reference_resolves(renders: dict[str, list[Obj]], overlay: str) -> None:
    objects = renders[overlay]
    missing = {ref for w in workloads(objects) for ref in references(w) if ref[1] not in named(objects, ref[0])}
    assert missing == EXTERNAL.get(overlay, set())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_expected_objects(renders: dict[str, list[Obj]], overlay: str) -> None:
    kinds = Counter(o["kind"] for o in renders[overlay])
    if overlay == "h100-canary":
        assert kinds == {"Deployment": 1, "ServiceAccount": 1}
        return
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "ConfigMap", "NetworkPolicy"):
        assert kinds[kind] >= 1, f"{overlay} has no {kind}"
    engines = overlay != "cpu"
    assert kinds["Deployment"] == 1 + engines
    assert kinds["PersistentVolumeClaim"] == engines
    # Dev clusters scrape through annotations; GPU clusters run the Prometheus operator.
    assert kinds["PodMonitor"] == 2 * engines


@pytest.mark.parametrize("overlay", ["cpu", "h100", "h100-tp1", "h100+canary"])
def test_every_pod_is_scraped(renders: dict[str, list[Obj]], overlay: str) -> None:
    objects = renders[overlay]
    monitors = [o["spec"]["selector"] for o in objects if o["kind"] == "PodMonitor"]
    for w in workloads(objects):
        annotations = w["spec"]["template"]["metadata"].get("annotations", {})
        by_monitor = any(selector_matches(m, template_labels(w)) for m in monitors)
        assert by_monitor or annotations.get("prometheus.io/scrape") == "true", w["metadata"]["name"]


@pytest.mark.parametrize(("overlay", "backend"), [("cpu", "embedded"), ("h100", "sglang"), ("h100-tp1", "sglang")])
def test_gateway_backend(renders: dict[str, list[Obj]], overlay: str, backend: str) -> None:
    config = next(o for o in renders[overlay] if o["kind"] == "ConfigMap")
    assert config["data"]["SLMRANK_BACKEND"] == backend
    assert ("SLMRANK_ENGINE_DNS" in config["data"]) == (backend == "sglang")


@pytest.mark.parametrize(("overlay", "replicas", "gpus"), [("h100", 2, 4), ("h100-tp1", 8, 1), ("h100-canary", 1, 4)])
def test_engine_layout(renders: dict[str, list[Obj]], overlay: str, replicas: int, gpus: int) -> None:
    engine = next(w for w in workloads(renders[overlay]) if "sglang-engine" in w["metadata"]["name"])
    container = next(c for c in pod_spec(engine)["containers"] if c["name"] == "engine")
    assert engine["spec"]["replicas"] == replicas
    assert container["resources"]["limits"]["nvidia.com/gpu"] == gpus


def test_canary_joins_the_engine_pool_with_its_own_selector(renders: dict[str, list[Obj]]) -> None:
    objects = renders["h100+canary"]
    engines = [w for w in workloads(objects) if "sglang-engine" in w["metadata"]["name"]]
    assert {template_labels(w)["slmrank.io/track"] for w in engines} == {"stable", "canary"}
    for w in engines:
        labels = template_labels(w)
        owners = [o["metadata"]["name"] for o in engines if selector_matches(o["spec"]["selector"], labels)]
        assert owners == [w["metadata"]["name"]], "a Deployment selector overlaps another's pods"
    pool = {"matchLabels": find(objects, "Service", "sglang-engine")["spec"]["selector"]}
    assert all(selector_matches(pool, template_labels(w)) for w in engines)
