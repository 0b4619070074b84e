"""Review rules for rendered Kubernetes manifests: each check returns the problems it finds.

The checks read plain dicts (objects from `kubectl kustomize`), so a test can run them on the real
render (expect no problems) and on a deliberately broken copy (expect the right problem).
"""

import re
from collections.abc import Callable, Iterator
from typing import Any

Obj = dict[str, Any]

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
GPU_RESOURCE = "nvidia.com/gpu"
GPUS_PER_NODE = 8
ENGINE_PORT = 30000
MIN_ENGINE_STARTUP_S = 600
MIN_READINESS_TIMEOUT_S = 5
# The SGLang launch flags every engine must carry (COMMON.md, "SGLang engine flags").
REQUIRED_ENGINE_FLAGS = {
    "--host": "0.0.0.0",
    "--port": str(ENGINE_PORT),
    "--attention-backend": "flashinfer",
    "--mem-fraction-static": "0.85",
    "--chunked-prefill-size": "8192",
    "--schedule-policy": "lpm",
    "--log-level": "warning",
}
REQUIRED_ENGINE_SWITCHES = ("--enable-metrics", "--skip-tokenizer-init")
FORBIDDEN_ENGINE_FLAGS = ("--disable-radix-cache",)


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    """The rendered object of this kind and name."""
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def workloads(objects: list[Obj]) -> Iterator[Obj]:
    """Objects that own a pod template."""
    return (o for o in objects if o["kind"] in WORKLOAD_KINDS)


def pod_spec(workload: Obj) -> Obj:
    """The pod spec inside a workload's template."""
    return workload["spec"]["template"]["spec"]


def all_containers(spec: Obj) -> list[Obj]:
    """Init and regular containers of a pod spec."""
    return [*spec.get("initContainers", []), *spec["containers"]]


def gpu_count(container: Obj) -> int:
    """GPUs a container asks for (0 without any)."""
    return int(container.get("resources", {}).get("limits", {}).get(GPU_RESOURCE, 0))


def is_gpu_workload(workload: Obj) -> bool:
    """True when any container of the workload requests GPUs."""
    return any(gpu_count(c) > 0 for c in pod_spec(workload)["containers"])


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    """matchLabels semantics (the manifests use no matchExpressions)."""
    assert "matchExpressions" not in selector, "policy checks only understand matchLabels"
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())


def template_labels(workload: Obj) -> dict[str, str]:
    """Labels of a workload's pods."""
    return workload["spec"]["template"]["metadata"].get("labels", {})


def resolve_args(container: Obj) -> list[str]:
    """command + args with Kubernetes $(VAR) references replaced from the container's env."""
    env = {e["name"]: e.get("value", "") for e in container.get("env", [])}
    words = [*container.get("command", []), *container.get("args", [])]
    return [re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), w) for w in words]


def flag_value(words: list[str], flag: str) -> str | None:
    """The word after `flag`, or None when the flag is absent."""
    return words[words.index(flag) + 1] if flag in words[:-1] else None


def prestop_sleep_s(container: Obj) -> int:
    """Seconds the preStop hook sleeps (sleep action or `sleep N` exec), 0 without one."""
    pre_stop = container.get("lifecycle", {}).get("preStop", {})
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = pre_stop.get("exec", {}).get("command", [])
    return int(command[-1]) if command[:1] == ["sleep"] else 0


def check_resources(objects: list[Obj]) -> list[str]:
    """Every container states cpu and memory requests and limits."""
    problems = []
    for w in workloads(objects):
        for c in all_containers(pod_spec(w)):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(res.get(kind, {}))
                if missing:
                    problems.append(f"{w['metadata']['name']}/{c['name']}: no {kind} for {sorted(missing)}")
    return problems


def check_probes(objects: list[Obj]) -> list[str]:
    """Every long-running container has readiness, liveness and startup probes."""
    problems = []
    for w in workloads(objects):
        for c in pod_spec(w)["containers"]:
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                if probe not in c:
                    problems.append(f"{w['metadata']['name']}/{c['name']}: no {probe}")
    return problems


def check_non_root(objects: list[Obj]) -> list[str]:
    """Every container runs as a non-zero UID, without privilege escalation or capabilities."""
    problems = []
    for w in workloads(objects):
        spec = pod_spec(w)
        pod_ctx = spec.get("securityContext", {})
        for c in all_containers(spec):
            ctx = {**pod_ctx, **c.get("securityContext", {})}
            where = f"{w['metadata']['name']}/{c['name']}"
            if ctx.get("runAsNonRoot") is not True or int(ctx.get("runAsUser", 0)) == 0:
                problems.append(f"{where}: may run as root")
            if ctx.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if "ALL" not in ctx.get("capabilities", {}).get("drop", []):
                problems.append(f"{where}: capabilities not dropped")
            if ctx.get("seccompProfile", {}).get("type") != "RuntimeDefault":
                problems.append(f"{where}: no RuntimeDefault seccomp profile")
    return problems


def check_gpu_matches_tp(objects: list[Obj]) -> list[str]:
    """A GPU container's request equals its limit and its --tp-size."""
    problems = []
    for w in workloads(objects):
        for c in pod_spec(w)["containers"]:
            res = c.get("resources", {})
            requested = int(res.get("requests", {}).get(GPU_RESOURCE, 0))
            if gpu_count(c) == 0 and requested == 0:
                continue
            tp = flag_value(resolve_args(c), "--tp-size")
            where = f"{w['metadata']['name']}/{c['name']}"
            if requested != gpu_count(c):
                problems.append(f"{where}: GPU request {requested} != limit {gpu_count(c)}")
            if tp is None or not tp.isdigit() or int(tp) != gpu_count(c):
                problems.append(f"{where}: {gpu_count(c)} GPUs but --tp-size {tp}")
    return problems


def check_grace_period(objects: list[Obj], drain_s: int) -> list[str]:
    """terminationGracePeriodSeconds exceeds preStop plus the longest request (the drain)."""
    problems = []
    for w in workloads(objects):
        spec = pod_spec(w)
        grace = int(spec.get("terminationGracePeriodSeconds", 30))
        for c in spec["containers"]:
            sleep_s = prestop_sleep_s(c)
            if sleep_s == 0:
                problems.append(f"{w['metadata']['name']}/{c['name']}: no preStop sleep")
            elif grace <= sleep_s + drain_s:
                where = f"{w['metadata']['name']}/{c['name']}"
                problems.append(f"{where}: grace {grace}s <= preStop {sleep_s}s + drain {drain_s}s")
    return problems


def check_images_pinned(objects: list[Obj]) -> list[str]:
    """Every image names a concrete tag or digest, never `latest`."""
    problems = []
    for w in workloads(objects):
        for c in all_containers(pod_spec(w)):
            image = c["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
            if "@sha256:" not in image and (tag is None or tag == "latest"):
                problems.append(f"{w['metadata']['name']}/{c['name']}: image {image} is not pinned")
    return problems


def check_selectors(objects: list[Obj]) -> list[str]:
    """Workload, PDB, HPA and topology-spread selectors all find the pods they mean."""
    problems = []
    pods = [(w["metadata"]["name"], template_labels(w)) for w in workloads(objects)]
    for w in workloads(objects):
        name, labels = w["metadata"]["name"], template_labels(w)
        if not selector_matches(w["spec"]["selector"], labels):
            problems.append(f"{name}: selector does not match its own pods")
        for tsc in pod_spec(w).get("topologySpreadConstraints", []):
            if not selector_matches(tsc["labelSelector"], labels):
                problems.append(f"{name}: topology spread selector misses its pods")
    for o in objects:
        selects = o["kind"] in ("PodDisruptionBudget", "PodMonitor")
        if selects and not any(selector_matches(o["spec"]["selector"], labels) for _, labels in pods):
            problems.append(f"{o['kind']} {o['metadata']['name']}: selects no pods")
        if o["kind"] == "HorizontalPodAutoscaler":
            target = o["spec"]["scaleTargetRef"]["name"]
            if target not in {n for n, _ in pods}:
                problems.append(f"HPA {o['metadata']['name']}: target {target} not rendered")
    return problems


PolicyCheck = Callable[[list[Obj]], list[str]]
