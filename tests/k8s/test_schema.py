"""Every rendered object validates, in strict mode, against the Kubernetes or vendored CRD schema."""

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.k8s.conftest import K8S_DIR, OVERLAYS

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="pip install kubernetes-validate")
jsonschema = pytest.importorskip("jsonschema", reason="pip install jsonschema")

Obj = dict[str, Any]
# The oldest release the manifests target (preStop `sleep` is on by default from 1.30) and the
# newest kubernetes-validate ships: removed or renamed fields show up in one or the other.
KUBERNETES_VERSIONS = ("1.30", "1.37")
SCHEMA_DIR = K8S_DIR / "schemas"
# Custom resources: (apiVersion, kind) -> vendored JSON schema file.
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "PodMonitor"): "monitoring.coreos.com_v1_podmonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
}


@cache
def crd_validator(api_version: str, kind: str) -> Any:
    """A jsonschema validator for a vendored custom-resource schema."""
    schema = json.loads(Path(SCHEMA_DIR / CRD_SCHEMAS[(api_version, kind)]).read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate(obj: Obj, version: str) -> None:
    """Raise if `obj` breaks its schema; a kind with no schema at all is an error too."""
    key = (obj["apiVersion"], obj["kind"])
    if key in CRD_SCHEMAS:
        crd_validator(*key).validate(obj)
    else:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_objects_validate_strictly(renders: dict[str, list[Obj]], overlay: str, version: str) -> None:
    for obj in renders[overlay]:
        try:
            validate(obj, version)
        except Exception as error:  # report which object, whatever the validator raised
            pytest.fail(f"{overlay} {obj['kind']}/{obj['metadata']['name']} (k8s {version}): {error}")


def test_strict_mode_rejects_a_misspelt_field(renders: dict[str, list[Obj]]) -> None:
    deployment = copy.deepcopy(next(o for o in renders["h100"] if o["kind"] == "Deployment"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessprobe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment, KUBERNETES_VERSIONS[0])


def test_podmonitor_schema_rejects_a_misspelt_field(renders: dict[str, list[Obj]]) -> None:
    monitor = copy.deepcopy(next(o for o in renders["h100"] if o["kind"] == "PodMonitor"))
    monitor["spec"]["podMetricsEndpoints"][0]["intervall"] = "15s"
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor, KUBERNETES_VERSIONS[0])


def test_podmonitor_schema_rejects_a_bad_duration(renders: dict[str, list[Obj]]) -> None:
    monitor = copy.deepcopy(next(o for o in renders["h100"] if o["kind"] == "PodMonitor"))
    monitor["spec"]["podMetricsEndpoints"][0]["interval"] = "15 seconds"
    with pytest.raises(jsonschema.ValidationError):
        validate(monitor, KUBERNETES_VERSIONS[0])


def test_unknown_kind_is_an_error() -> None:
    scaled = {"apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "x"}, "spec": {}}
    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        validate(scaled, KUBERNETES_VERSIONS[0])
