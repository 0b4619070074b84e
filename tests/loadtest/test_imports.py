"""loadtest is a black box: it imports only the stdlib, a few client libraries and the torch-free modules of
`ranking` that describe a model's card and prompt text (so no template string has a second copy)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "loadtest"
ALLOWED = {"loadtest", "numpy", "httpx", "matplotlib", "hdrh", "locust"}
RANKING_MODULES = {"ranking", "ranking.card", "ranking.prompt_template", "ranking.input_contract", "ranking.tasks"}


def test_loadtest_imports_only_stdlib_and_client_libraries() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            if isinstance(node, ast.ImportFrom) and node.module == "ranking":
                names = [f"ranking.{alias.name}" for alias in node.names]
            for name in names:
                if name in RANKING_MODULES:
                    continue
                top = name.split(".")[0]
                if top not in ALLOWED and top not in sys.stdlib_module_names:
                    offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_the_ranking_modules_loadtest_uses_are_torch_free() -> None:
    """Importing them (and what they import) in a fresh interpreter loads neither torch nor transformers."""
    code = "import sys; import " + ", ".join(sorted(RANKING_MODULES - {"ranking"})) + "; "
    code += "print(sorted(m for m in ('torch', 'transformers', 'fastapi') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
