"""``pip install pointkit`` into a fresh venv with numpy 2 runs ``lift``: the core carries no
Blender pins (bpy, and with it numpy < 2, lives only in the ``blender`` extra).

Slow (a venv and the core's wheels: about 1-2 minutes with a warm pip cache); needs the package
index ``make setup`` uses. torch comes from ``$TORCH_SPEC`` as in the Makefile (the CPU build).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=900, **kwargs)


def test_fresh_install_with_numpy_2_lifts_an_image(tmp_path):
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", venv])
    assert made.returncode == 0, made.stderr
    py = venv / "bin" / "python"
    torch_spec = os.environ.get("TORCH_SPEC", "torch==2.13.0")
    source = tmp_path / "src"  # what an sdist holds; the build writes there, not into the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for name in ("pointkit", "cli"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    install = _run([py, "-m", "pip", "install", "-q", torch_spec, "numpy>=2", source])
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-3000:]

    versions = _run(
        [
            py,
            "-c",
            "import importlib.util, json, numpy, torch; "
            "print(json.dumps([numpy.__version__, importlib.util.find_spec('bpy') is None]))",
        ]
    )
    numpy_version, no_bpy = json.loads(versions.stdout)
    assert numpy_version.startswith("2.") and no_bpy

    out = tmp_path / "out"
    lift = _run(
        [
            venv / "bin" / "pointkit",
            "-q",
            "lift",
            REPO / "examples" / "venus_de_milo_cast.png",
            "--out",
            out,
            "--format",
            "glb,ply",
        ],
        cwd=tmp_path,
    )
    assert lift.returncode == 0, lift.stderr
    summary = json.loads(lift.stdout.splitlines()[-1])
    assert summary["lifted"] == 1
    import numpy as np
    import trimesh

    mesh = trimesh.load(out / "venus_de_milo_cast.ply")
    depth = np.load(out / "venus_de_milo_cast_depth.npy")
    assert len(mesh.vertices) > 1000 and np.isfinite(depth).all() and (depth > 0).any()
