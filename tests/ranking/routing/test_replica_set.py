"""ReplicaSet membership and health bookkeeping; HealthChecker rounds; EndpointResolver parsing."""

from __future__ import annotations

import asyncio

import pytest

from ranking.routing.endpoint_resolver import EndpointResolver, parse_host_port
from ranking.routing.health_checker import HealthChecker, HealthCheckerConfig
from ranking.routing.replica_set import ReplicaSet
from tests.ranking.routing.fake_replica import FakeReplica


def test_set_endpoints_adds_removes_and_keeps_state():
    rs = ReplicaSet(FakeReplica)
    rs.set_endpoints(["http://a:1", "http://b:1/"])
    rs.replicas["http://a:1"].is_healthy = True
    removed = rs.set_endpoints(["http://a:1", "http://c:1", "http://c:1"])
    assert [r.url for r in removed] == ["http://b:1"]
    assert sorted(rs.replicas) == ["http://a:1", "http://c:1"]
    assert rs.replicas["http://a:1"].is_healthy and not rs.replicas["http://c:1"].is_healthy


def test_route_skips_unhealthy_and_open_circuits():
    rs = ReplicaSet(FakeReplica)
    rs.set_endpoints(["http://a:1", "http://b:1", "http://c:1"])
    for r in rs.replicas.values():
        r.is_healthy = True
    rs.replicas["http://b:1"].is_healthy = False
    for _ in range(3):
        rs.replicas["http://c:1"].breaker.record_failure()
    assert [r.url for r in rs.route("k")] == ["http://a:1"]
    rs.replicas["http://a:1"].is_healthy = False  # none healthy: panic routing skips only open circuits
    assert sorted(r.url for r in rs.route("k")) == ["http://a:1", "http://b:1"]


def test_health_thresholds_eject_after_two_failures_and_readmit_after_two_passes():
    rs = ReplicaSet(FakeReplica)
    rs.set_endpoints(["http://a:1"])
    r = rs.replicas["http://a:1"]
    results = [True, True, False, True, False, False, True, True, False]
    want = [False, True, True, True, True, False, False, True, True]
    for is_ok, expected in zip(results, want, strict=True):
        rs.record_health(r, is_ok, failure_threshold=2, success_threshold=2)
        assert r.is_healthy is expected


def test_health_checker_counts_hangs_and_errors_as_failures():
    rs = ReplicaSet(FakeReplica)
    rs.set_endpoints(["http://a:1", "http://b:1"])
    rs.replicas["http://b:1"].scorer.mode = "hang"  # type: ignore[attr-defined]
    checker = HealthChecker(rs, HealthCheckerConfig(timeout_s=0.1, failure_threshold=1))
    asyncio.run(checker.check_once())
    assert rs.replicas["http://a:1"].is_healthy and not rs.replicas["http://b:1"].is_healthy


def test_parse_host_port():
    assert parse_host_port("engines.ns.svc.cluster.local:30000") == ("engines.ns.svc.cluster.local", 30000)
    for bad in ("nohost", ":80", "host:", "host:http"):
        with pytest.raises(ValueError, match="host:port"):
            parse_host_port(bad)


def test_resolver_gives_one_url_per_address_and_empty_on_nxdomain():
    assert asyncio.run(EndpointResolver("localhost:30000").resolve()) == ["http://127.0.0.1:30000"]
    assert asyncio.run(EndpointResolver("no-such-host.invalid:1").resolve()) == []
