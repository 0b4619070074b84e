"""yamllint on k8s/, hadolint on the gateway Dockerfile, and the Dockerfile's contract."""

import re
import subprocess
from pathlib import Path

from tests.k8s.conftest import K8S_DIR, OVERLAYS, REPO_ROOT, find_tool

DOCKERFILE = REPO_ROOT / "Dockerfile"
YAMLLINT_CONFIG = K8S_DIR / ".yamllint.yaml"


def run(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a linter, capturing its report."""
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False, cwd=REPO_ROOT)


def test_yamllint_passes_strict() -> None:
    done = run(find_tool("yamllint"), "--strict", "-c", str(YAMLLINT_CONFIG), str(K8S_DIR))
    assert done.returncode == 0, done.stdout + done.stderr


def test_yamllint_config_still_catches_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("---\nkey: value   \nkey: again\n")
    done = run(find_tool("yamllint"), "--strict", "-c", str(YAMLLINT_CONFIG), str(bad))
    assert done.returncode != 0
    assert "trailing-spaces" in done.stdout and "key-duplicates" in done.stdout


def test_hadolint_passes() -> None:
    done = run(find_tool("hadolint"), str(DOCKERFILE))
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_flags_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install fastapi\n")
    done = run(find_tool("hadolint"), str(bad))
    assert done.returncode != 0
    assert "DL3007" in done.stdout


def test_dockerfile_contract() -> None:
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", text, flags=re.MULTILINE)
    assert stages == ["builder", "runtime"], "multi-stage: a builder then a slim runtime"
    assert "python:3.11-slim" in text
    runtime = text.split("AS runtime", 1)[1]
    user = re.search(r"^USER (\d+)(?::(\d+))?$", runtime, flags=re.MULTILINE)
    assert user and int(user.group(1)) != 0, "runtime runs as a numeric non-root UID"
    assert re.search(r"^EXPOSE 8000$", runtime, flags=re.MULTILINE)
    assert "HEALTHCHECK" in runtime and "/healthz" in runtime
    assert 'CMD ["slmrank", "serve", "--host", "0.0.0.0", "--port", "8000"]' in runtime
    assert "COPY models/default /app/models/default" in runtime
    assert "torch==2.13.0" in text and "download.pytorch.org/whl/cpu" in text


def test_deploy_docs_name_what_the_manifests_hold() -> None:
    docs = (REPO_ROOT / "docs" / "deploy.md").read_text()
    for overlay in OVERLAYS:
        assert f"k8s/overlays/{overlay}" in docs, f"docs/deploy.md does not cover {overlay}"
    engine = (K8S_DIR / "engine" / "engine-deployment.yaml").read_text()
    images = set(re.findall(r"image: (lmsysorg/sglang:\S+)", engine))
    assert len(images) == 1 and images.pop() in docs, "docs/deploy.md names another SGLang image"
