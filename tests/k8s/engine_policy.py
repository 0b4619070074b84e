"""Review rules specific to the GPU engine pods and the gateway's view of them."""

from tests.k8s.policy import (
    ENGINE_PORT,
    FORBIDDEN_ENGINE_FLAGS,
    GPUS_PER_NODE,
    MIN_ENGINE_STARTUP_S,
    MIN_READINESS_TIMEOUT_S,
    REQUIRED_ENGINE_FLAGS,
    REQUIRED_ENGINE_SWITCHES,
    Obj,
    all_containers,
    flag_value,
    gpu_count,
    is_gpu_workload,
    pod_spec,
    resolve_args,
    selector_matches,
    template_labels,
    workloads,
)

MODEL_STORE = "/models/store"


def engines(objects: list[Obj]) -> list[Obj]:
    """Workloads whose pods request GPUs."""
    return [w for w in workloads(objects) if is_gpu_workload(w)]


def engine_container(engine: Obj) -> Obj:
    """The GPU container of an engine workload."""
    return next(c for c in pod_spec(engine)["containers"] if gpu_count(c) > 0)


def gateway_config(objects: list[Obj]) -> dict[str, str]:
    """Data of the gateway's settings ConfigMap (generated name has a hash suffix)."""
    maps = [o for o in objects if o["kind"] == "ConfigMap" and "gateway-config" in o["metadata"]["name"]]
    assert len(maps) == 1, f"expected one gateway ConfigMap, found {len(maps)}"
    return maps[0]["data"]


def res_of(container: Obj, kind: str) -> tuple[str | None, str | None]:
    """A container's cpu and memory under requests or limits."""
    values = container.get("resources", {}).get(kind, {})
    return values.get("cpu"), values.get("memory")


def check_engine_probes(objects: list[Obj]) -> list[str]:
    """Readiness runs a real generation with a multi-second timeout; startup allows a model load."""
    problems = []
    for w in engines(objects):
        c, name = engine_container(w), w["metadata"]["name"]
        ready = c.get("readinessProbe", {})
        if ready.get("httpGet", {}).get("path") != "/health_generate":
            problems.append(f"{name}: readiness is not /health_generate")
        if int(ready.get("timeoutSeconds", 1)) < MIN_READINESS_TIMEOUT_S:
            problems.append(f"{name}: readiness timeout under {MIN_READINESS_TIMEOUT_S}s")
        start = c.get("startupProbe", {})
        budget = int(start.get("failureThreshold", 3)) * int(start.get("periodSeconds", 10))
        if budget < MIN_ENGINE_STARTUP_S:
            problems.append(f"{name}: startup budget {budget}s under {MIN_ENGINE_STARTUP_S}s")
    return problems


def check_engine_pod(objects: list[Obj]) -> list[str]:
    """GPU pods: memory /dev/shm, model volume read-only, Guaranteed QoS, GPU-node placement."""
    problems = []
    for w in engines(objects):
        spec, name = pod_spec(w), w["metadata"]["name"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        mounts = {m["mountPath"]: m for c in all_containers(spec) for m in c.get("volumeMounts", [])}
        shm = volumes.get(mounts.get("/dev/shm", {}).get("name", ""), {})
        if shm.get("emptyDir", {}).get("medium") != "Memory":
            problems.append(f"{name}: /dev/shm is not a memory emptyDir")
        store = mounts.get(MODEL_STORE, {})
        if "persistentVolumeClaim" not in volumes.get(store.get("name", ""), {}) or not store.get("readOnly"):
            problems.append(f"{name}: model PVC not mounted read-only at {MODEL_STORE}")
        if any(res_of(c, "requests") != res_of(c, "limits") for c in all_containers(spec)):
            problems.append(f"{name}: not Guaranteed QoS (cpu/memory requests != limits)")
        if not spec.get("nodeSelector") and "nodeAffinity" not in spec.get("affinity", {}):
            problems.append(f"{name}: no GPU node selection")
        if not any(t.get("key") == "nvidia.com/gpu" for t in spec.get("tolerations", [])):
            problems.append(f"{name}: no toleration for GPU node taints")
    return problems


def check_engine_flags(objects: list[Obj]) -> list[str]:
    """The engine runs sglang.launch_server with the agreed flags and the radix cache on."""
    problems = []
    for w in engines(objects):
        words, name = resolve_args(engine_container(w)), w["metadata"]["name"]
        if "sglang.launch_server" not in words:
            problems.append(f"{name}: not sglang.launch_server")
        for flag, value in REQUIRED_ENGINE_FLAGS.items():
            if flag_value(words, flag) != value:
                problems.append(f"{name}: {flag} is {flag_value(words, flag)}, want {value}")
        problems += [f"{name}: missing {s}" for s in REQUIRED_ENGINE_SWITCHES if s not in words]
        problems += [f"{name}: forbidden {f}" for f in FORBIDDEN_ENGINE_FLAGS if f in words]
    return problems


def check_node_fill(objects: list[Obj]) -> list[str]:
    """Engine replicas fill whole 8-GPU nodes: tp divides 8 and replicas x tp is a multiple of 8."""
    problems = []
    for w in engines(objects):
        gpus, replicas = gpu_count(engine_container(w)), int(w["spec"].get("replicas", 1))
        if GPUS_PER_NODE % gpus or (replicas * gpus) % GPUS_PER_NODE:
            problems.append(f"{w['metadata']['name']}: {replicas} x {gpus} GPUs leaves a node part-empty")
    return problems


def check_engine_service(objects: list[Obj]) -> list[str]:
    """A headless Service on the engine port selects every engine pod."""
    services = [
        o
        for o in objects
        if o["kind"] == "Service"
        and any(
            selector_matches({"matchLabels": o["spec"].get("selector", {})}, template_labels(w))
            for w in engines(objects)
        )
    ]
    if not services:
        return ["no Service selects the engine pods"]
    problems = []
    for s in services:
        name = s["metadata"]["name"]
        if s["spec"].get("clusterIP") != "None":
            problems.append(f"Service {name}: not headless")
        if [p["port"] for p in s["spec"]["ports"]] != [ENGINE_PORT]:
            problems.append(f"Service {name}: ports are not [{ENGINE_PORT}]")
        for w in engines(objects):
            if not selector_matches({"matchLabels": s["spec"]["selector"]}, template_labels(w)):
                problems.append(f"Service {name}: misses engine {w['metadata']['name']}")
    return problems


def is_gateway_peer(peer: Obj) -> bool:
    """A same-namespace peer that selects gateway pods only."""
    labels = peer.get("podSelector", {}).get("matchLabels", {})
    return "namespaceSelector" not in peer and labels.get("app.kubernetes.io/name") == "slmrank-gateway"


def is_prometheus_peer(peer: Obj) -> bool:
    """Prometheus pods in the monitoring namespace (they scrape /metrics)."""
    ns = peer.get("namespaceSelector", {}).get("matchLabels", {})
    pods = peer.get("podSelector", {}).get("matchLabels", {})
    return ns == {"kubernetes.io/metadata.name": "monitoring"} and pods.get("app.kubernetes.io/name") == "prometheus"


def check_engine_network_policy(objects: list[Obj]) -> list[str]:
    """Default deny, and engines reachable only from gateways (plus Prometheus scraping)."""
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    problems = [] if any(p["spec"]["podSelector"] == {} for p in policies) else ["no default-deny policy"]
    for w in engines(objects):
        mine = [
            p
            for p in policies
            if p["spec"]["podSelector"] != {} and selector_matches(p["spec"]["podSelector"], template_labels(w))
        ]
        rules = [r for p in mine for r in p["spec"].get("ingress", [])]
        peers = [peer for r in rules for peer in r.get("from", [{}])]
        if not any(is_gateway_peer(p) for p in peers):
            problems.append(f"{w['metadata']['name']}: gateways cannot reach the engine")
        if any(not r.get("from") for r in rules) or not all(is_gateway_peer(p) or is_prometheus_peer(p) for p in peers):
            problems.append(f"{w['metadata']['name']}: engine reachable from more than gateways")
    return problems


def check_gateway_routing(objects: list[Obj]) -> list[str]:
    """The gateway uses the SGLang backend, the headless Service's FQDN, and the served tokenizer."""
    config = gateway_config(objects)
    problems = [] if config.get("SLMRANK_BACKEND") == "sglang" else ["gateway backend is not sglang"]
    headless = [s for s in objects if s["kind"] == "Service" and s["spec"].get("clusterIP") == "None"]
    wanted = {f"{s['metadata']['name']}.{s['metadata']['namespace']}.svc.cluster.local:{ENGINE_PORT}" for s in headless}
    if config.get("SLMRANK_ENGINE_DNS") not in wanted:
        problems.append(f"SLMRANK_ENGINE_DNS {config.get('SLMRANK_ENGINE_DNS')} not in {sorted(wanted)}")
    # A canary serves another checkpoint with the same tokenizer; the gateway follows the stable set.
    for w in [e for e in engines(objects) if template_labels(e).get("slmrank.io/track") == "stable"]:
        for c in pod_spec(w).get("initContainers", []):
            version = {e["name"]: e.get("value") for e in c.get("env", [])}.get("MODEL_VERSION")
            if version and config.get("SLMRANK_MODEL_DIR") != f"{MODEL_STORE}/{version}":
                problems.append(f"gateway model dir {config.get('SLMRANK_MODEL_DIR')} != engine {version}")
    return problems
