"""Imports point down only (STYLE.md): service -> ranking; training -> ranking, compression; compression ->
ranking; loadtest -> only the torch-free card and prompt-text modules of ranking; ranking -> none of the others.
Also: no FastAPI in ranking/, no torch imported at module level in service/."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("ranking", "service", "training", "compression", "loadtest", "slmrank")
ALLOWED = {
    "ranking": set(),
    "service": {"ranking", "slmrank"},
    "training": {"ranking", "compression"},
    "compression": {"ranking"},
    "loadtest": {"ranking"},
    "slmrank": set(PACKAGES),
}


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_only_what_it_may(package: str) -> None:
    for path in (ROOT / package).rglob("*.py"):
        used = imports(path) & set(PACKAGES) - {package}
        assert used <= ALLOWED[package], f"{path.relative_to(ROOT)} imports {sorted(used - ALLOWED[package])}"


def test_ranking_does_not_need_fastapi() -> None:
    for path in (ROOT / "ranking").rglob("*.py"):
        assert not imports(path) & {"fastapi", "starlette", "uvicorn"}, path


def test_service_imports_no_torch_at_module_level() -> None:
    for path in (ROOT / "service").rglob("*.py"):
        assert "torch" not in imports(path, top_level_only=True), path


LOADTEST_RANKING_MODULES = {"ranking.card", "ranking.prompt_template", "ranking.input_contract", "ranking.tasks"}


def test_loadtest_imports_only_torch_free_ranking_modules() -> None:
    for path in (ROOT / "loadtest").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ranking":
                modules = {f"ranking.{a.name}" for a in node.names} if node.module == "ranking" else {node.module}
                assert modules <= LOADTEST_RANKING_MODULES, f"{path.relative_to(ROOT)} imports {sorted(modules)}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] == "ranking":
                        assert alias.name in LOADTEST_RANKING_MODULES, f"{path.relative_to(ROOT)}: {alias.name}"
