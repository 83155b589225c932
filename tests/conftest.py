"""Shared fixtures. Real data lives in ../shared/data beside the repository and is read in place;
tests that need it skip with a reason when it is absent (a user's fresh clone has no shared/)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POINTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set POINTKIT_SHARED_DATA or place shared/ beside the repo)")
    return SHARED_DATA


_DEVICE_DTYPES = [("cpu", torch.float32), ("cpu", torch.float64)] + (
    [("cuda", torch.bfloat16)] if torch.cuda.is_available() else []
)


@pytest.fixture(params=_DEVICE_DTYPES, ids=lambda p: f"{p[0]}-{str(p[1]).removeprefix('torch.')}")
def device_dtype(request) -> tuple[str, torch.dtype]:
    """(device, dtype) the core functions are checked in: CPU float32 and float64 always, CUDA
    bfloat16 when a GPU is present (what training runs under autocast)."""
    return request.param


TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-4, torch.bfloat16: 3e-2}
"""Relative tolerance of a core result against its float64 NumPy reference, per dtype."""


def blender_worker_or_skip() -> None:
    """Skip the calling test module unless the Blender renderer plugin is installed and a Blender
    for its worker process is found (``$POINTKIT_BLENDER``, or bpy in this Python)."""
    pytest.importorskip("pointkit_blender_renderer")
    from pointkit.errors import PointkitError
    from pointkit_blender_renderer.process import worker_command

    try:
        worker_command()
    except PointkitError as exc:
        pytest.skip(f"no Blender for the worker: {exc}", allow_module_level=True)
