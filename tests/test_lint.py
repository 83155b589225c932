"""Static checks over the whole tree, run by `make test` (so by CI): ruff's pyflakes rules (unused
imports and variables, undefined names, redefinitions) and syntax errors, and ruff's formatter
(`ruff format --check`, line length 120: pyproject.toml [tool.ruff])."""

from __future__ import annotations

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
