"""The training Job (k8s/training): renders, validates strictly, and its torchrun command is consistent with the
Job, the Service and the slmrank CLI, offline."""

from __future__ import annotations

from typing import Any

import pytest

from slmrank.cli import build_parser
from tests.k8s.conftest import render

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")


@pytest.fixture(scope="module")
def objects(kubectl: str) -> dict[str, dict[str, Any]]:
    rendered = render(kubectl, "../training")
    return {obj["kind"]: obj for obj in rendered}


def torchrun_options(job: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """--key=value options before `-m`, and the module's argv after it."""
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["torchrun"]
    args = container["args"]
    split = args.index("-m")
    options = dict(a.removeprefix("--").split("=", 1) for a in args[:split])
    return options, args[split + 1 :]


@pytest.mark.parametrize("version", ["1.30", "1.37"])
def test_objects_validate_strictly(objects: dict[str, dict[str, Any]], version: str) -> None:
    assert set(objects) == {"Job", "Service", "NetworkPolicy"}
    for obj in objects.values():
        kubernetes_validate.validate(obj, version, strict=True)


def test_nodes_gpus_and_rendezvous_agree(objects: dict[str, dict[str, Any]]) -> None:
    job, service = objects["Job"], objects["Service"]
    options, _ = torchrun_options(job)
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == int(options["nnodes"])
    gpus = pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"]
    assert int(gpus) == int(options["nproc-per-node"])
    host, port = options["rdzv-endpoint"].split(":")
    assert host == f"{job['metadata']['name']}-0.{pod['subdomain']}"  # Indexed pod 0 under the headless Service
    assert service["metadata"]["name"] == pod["subdomain"] and service["spec"]["clusterIP"] == "None"
    assert service["spec"]["publishNotReadyAddresses"] is True
    assert int(port) == service["spec"]["ports"][0]["port"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    policy = objects["NetworkPolicy"]["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= labels.items()


def test_the_command_is_a_valid_slmrank_invocation(objects: dict[str, dict[str, Any]]) -> None:
    _, argv = torchrun_options(objects["Job"])
    assert argv[0] == "slmrank"
    args = build_parser().parse_args(argv[1:])
    assert args.stage == "teacher" and args.device == "cuda" and args.config == "gpu"
    mounts = {m["mountPath"] for m in objects["Job"]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    assert str(args.data).startswith("/data") and str(args.out).startswith("/runs") and {"/data", "/runs"} <= mounts
