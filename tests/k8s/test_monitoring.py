"""The Grafana dashboard and the alert rules shipped with the overlays, checked offline: they render, validate,
and every series they query is one the gateway really exports."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from service.metrics import ServiceMetrics
from service.variant_metrics import VariantMetrics
from tests.k8s.conftest import K8S_DIR, REPO_ROOT

Obj = dict[str, Any]
DASHBOARD = K8S_DIR / "components" / "monitoring" / "slmrank-dashboard.json"
SERIES = re.compile(r"\b(slmrank_[a-z0-9_]+)")
# Series from kube-state-metrics and Prometheus itself that alerts may use.
EXTERNAL = {"kube_deployment_status_replicas_available", "kube_deployment_spec_replicas", "up"}


def exported_series() -> set[str]:
    """Every series name the gateway's /metrics can show: its own registry and the engines' MetricSamples."""
    metrics = ServiceMetrics()
    VariantMetrics(metrics.registry)
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    names = {f.name + end for f in metrics.registry.collect() for end in suffixes.get(f.type, ("",))}
    source = "\n".join(p.read_text() for p in (REPO_ROOT / "ranking").rglob("*.py"))
    for base in re.findall(r'MetricSample\(\s*"([a-z0-9_]+)"', source):
        name = f"slmrank_engine_{base}"
        names |= {name, f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return names


def unknown_series(exprs: list[str], known: set[str]) -> list[str]:
    """Series an expression names that nothing exports, and expressions with unbalanced brackets."""
    problems = [n for e in exprs for n in SERIES.findall(e) if n not in known]
    for e in exprs:
        if any(e.count(a) != e.count(b) for a, b in ("()", "{}", "[]")):
            problems.append(f"unbalanced brackets: {e}")
    return problems


def dashboard_exprs(dashboard: Obj) -> list[str]:
    return [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]


def alert_rules(objects: list[Obj]) -> list[Obj]:
    rules = [o for o in objects if o["kind"] == "PrometheusRule"]
    return [r for rule in rules for group in rule["spec"]["groups"] for r in group["rules"]]


@pytest.fixture(scope="module")
def known() -> set[str]:
    return exported_series()


def test_gpu_overlays_ship_the_dashboard_and_the_alerts(renders: dict[str, list[Obj]]) -> None:
    for overlay in ("h100", "h100-tp1"):
        objects = renders[overlay]
        dashboards = [
            o for o in objects if o["kind"] == "ConfigMap" and "grafana_dashboard" in o["metadata"].get("labels", {})
        ]
        assert len(dashboards) == 1, overlay
        assert json.loads(dashboards[0]["data"]["slmrank-dashboard.json"]) == json.loads(DASHBOARD.read_text())
        assert alert_rules(objects), overlay


def test_dashboard_queries_only_exported_series(known: set[str]) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = dashboard_exprs(dashboard)
    assert len(exprs) >= 10
    assert unknown_series(exprs, known) == []
    titles = " ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("goodput", "shed", "latency", "cache", "queue", "model and variant", "replicas"):
        assert topic in titles, topic
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(set(ids)) == len(ids)


def test_the_check_catches_a_misspelt_series(known: set[str]) -> None:
    dashboard = copy.deepcopy(json.loads(DASHBOARD.read_text()))
    dashboard["panels"][0]["targets"][0]["expr"] = "sum(rate(slmrank_request_latency_second_count[1m]))"
    assert unknown_series(dashboard_exprs(dashboard), known) == ["slmrank_request_latency_second_count"]
    assert unknown_series(["sum(rate(slmrank_shed_total[1m])"], known)


def test_alerts_query_exported_series_and_say_what_to_do(renders: dict[str, list[Obj]], known: set[str]) -> None:
    rules = alert_rules(renders["h100"])
    names = {r["alert"] for r in rules}
    assert {"SlmrankShedding", "SlmrankGatewayReplicasMissing", "SlmrankEngineReplicasMissing"} <= names
    assert unknown_series([r["expr"] for r in rules], known | EXTERNAL) == []
    for rule in rules:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert "for" in rule, rule["alert"]


def test_metrics_port_is_reachable_only_from_prometheus(renders: dict[str, list[Obj]]) -> None:
    objects = renders["h100"]
    policy = next(
        o for o in objects if o["kind"] == "NetworkPolicy" and o["metadata"]["name"] == "slmrank-gateway-ingress"
    )
    for rule in policy["spec"]["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        if "metrics" in ports:
            assert rule.get("from"), "the metrics port must name its sources"
            assert ports == {"metrics"}
    monitor = next(o for o in objects if o["kind"] == "PodMonitor" and o["metadata"]["name"] == "slmrank-gateway")
    assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    config = next(o for o in objects if o["kind"] == "ConfigMap" and "SLMRANK_METRICS_PORT" in o.get("data", {}))
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "slmrank-gateway")
    ports = {p["name"]: p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert ports["metrics"] == int(config["data"]["SLMRANK_METRICS_PORT"])


def test_dashboard_file_is_shipped_as_is() -> None:
    assert Path(DASHBOARD).is_file()


@pytest.mark.parametrize("overlay", ["cpu", "h100", "h100-tp1"])
def test_grace_period_covers_the_gateways_shutdown_bound(renders: dict[str, list[Obj]], overlay: str) -> None:
    objects = renders[overlay]
    config = next(o for o in objects if o["kind"] == "ConfigMap" and "SLMRANK_SHUTDOWN_TIMEOUT_S" in o.get("data", {}))
    data = config["data"]
    deployment = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "slmrank-gateway")
    spec = deployment["spec"]["template"]["spec"]
    pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    bound = pre_stop + float(data["SLMRANK_SHUTDOWN_DRAIN_S"]) + float(data["SLMRANK_SHUTDOWN_TIMEOUT_S"]) + 3.0
    assert spec["terminationGracePeriodSeconds"] > bound
    assert float(data["SLMRANK_SHUTDOWN_TIMEOUT_S"]) >= float(data["SLMRANK_REQUEST_TIMEOUT_S"])
