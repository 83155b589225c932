"""Static checks over the whole tree, run by `make test` (so by CI): ruff's pyflakes rules (unused
imports and variables, undefined names, redefinitions) and syntax errors, and ruff's formatter
(`ruff format --check`, line length 120: pyproject.toml [tool.ruff])."""

from __future__ import annotations

import ast
import graphlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install 'pointkit[dev]')")
    return subprocess.run([ruff, *args, "--no-cache", str(REPO)], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_ruff_finds_no_pyflakes_errors():
    run = _ruff("check", "--output-format", "concise")  # rules: pyproject.toml [tool.ruff.lint]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]


def test_the_tree_is_formatted_by_ruff():
    run = _ruff("format", "--check")
    assert run.returncode == 0, "run `ruff format .`:\n" + run.stdout[-3000:] + run.stderr[-1000:]


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _pointkit_import_graph() -> dict[str, set[str]]:
    """Module -> the pointkit modules it imports anywhere in its body (function-local imports too)."""
    files = {_module_name(p): p for p in (REPO / "pointkit").rglob("*.py")}

    def known(name: str) -> str | None:  # `from pointkit.a import b` names module a.b or a name in a
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph = {}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(known(alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import: climb from this module's package
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets.update(known(f"{base}.{alias.name}") for alias in node.names)
        graph[module] = targets - {None, module}
    return graph


def test_pointkit_imports_form_no_cycle():
    graph = _pointkit_import_graph()
    assert "pointkit.errors" in graph["pointkit.models.catalog"]  # the walk sees the imports
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as err:
        pytest.fail(f"import cycle in pointkit/: {' -> '.join(err.args[1])}")


def test_no_pointkit_module_is_over_600_lines():
    long = {
        str(p.relative_to(REPO)): n
        for p in (REPO / "pointkit").rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    }
    assert not long, f"split these into rooms of one job each: {long}"
