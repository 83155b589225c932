"""Static checks over the whole tree, run by `make test` (so by CI): ruff's pyflakes rules (unused
imports and variables, undefined names, redefinitions) and syntax errors."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_finds_no_pyflakes_errors():
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install 'pointkit[dev]')")
    run = subprocess.run([ruff, "check", "--select", "F,E9", "--no-cache", "--output-format", "concise", str(REPO)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-1000:]
