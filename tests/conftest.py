"""Shared fixtures. Real data lives in ../shared/data beside the repository and is read in place;
tests that need it skip with a reason when it is absent (a user's fresh clone has no shared/)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("POINTKIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data; skips the test when it is not there."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (set POINTKIT_SHARED_DATA or place shared/ beside the repo)")
    return SHARED_DATA
