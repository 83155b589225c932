"""Atomic writes: complete file or nothing, ordinary permissions."""

import os
import stat

import pytest

from pointkit.io import atomic_path, write_json_atomic


def test_failure_leaves_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.json"
    write_json_atomic(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-write")
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_temporary_keeps_the_suffix_and_final_mode_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "mesh.glb") as tmp:
            assert tmp.suffix == ".glb" and tmp.parent == tmp_path
            tmp.write_bytes(b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "mesh.glb").stat().st_mode) == 0o644
