"""Atomic file writes: a file either appears complete or not at all (kill -9 safe)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync and rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched. ``suffix``
    (default: the suffix of ``path``) keeps writers that pick a format by extension happy.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The temporary name ends with the real suffix (".x.npz.tmp-abc.npz") so that writers which
    # choose a format from the extension (numpy, PIL, trimesh) behave as for the final path.
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.tmp-", suffix=suffix if suffix is not None else path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the mode a plain open() would
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_npz_atomic(path: str | os.PathLike, **arrays: Any) -> Path:
    """Write ``arrays`` as one compressed .npz, atomically; returns the path.

    The archive is built in memory and written in one call: numpy's writer leaves its ZipFile
    unclosed when an interrupt (Ctrl-C, SIGTERM) lands inside it, and that ZipFile's finaliser then
    fails on the closed file ("Exception ignored in ZipFile.__del__") after the error line.
    """
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    write_bytes_atomic(path, buffer.getvalue())
    return Path(path)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_bytes_atomic(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())
