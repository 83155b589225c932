"""Run pointkit on an image and return the path of its .npz depth file (no bpy here).

In-process when ``import pointkit`` works in this Python (a Blender whose Python has pointkit
installed, or the bpy wheel beside pointkit); otherwise the ``pointkit`` executable, started with
an argument list (never a shell) and polled so the caller can show progress and give up after a
timeout.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

MODES = ("AUTO", "IN_PROCESS", "EXECUTABLE")
_CACHE: dict[tuple, Path] = {}
_WORKDIR: list[Path] = []


class BackendError(Exception):
    """pointkit failed; the message is one line for Blender's report area."""


def _workdir() -> Path:
    if not _WORKDIR or not _WORKDIR[0].is_dir():
        _WORKDIR[:] = [Path(tempfile.mkdtemp(prefix="pointkit-blender-"))]
    return _WORKDIR[0]


def in_process_available() -> bool:
    return importlib.util.find_spec("pointkit") is not None


def _first_line(text: str, fallback: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # The CLI's own error is its last line ("Error: ..."); progress bars come before it.
    return lines[-1].removeprefix("Error: ") if lines else fallback


def _run_in_process(image: Path, out: Path, checkpoint: str | None) -> Path:
    from pointkit.errors import PointkitError
    from pointkit.lifting import lift_files

    try:
        summary = lift_files([image], out, fmt="npz", checkpoint=checkpoint or None, progress=False)
    except PointkitError as exc:
        raise BackendError(str(exc)) from None
    except Exception as exc:  # an unexpected bug still reaches the user as one line, not a traceback
        raise BackendError(f"pointkit failed on {image.name}: {type(exc).__name__}: {exc}") from None
    return Path(summary["outputs"][str(image)][-1])


def _run_executable(image: Path, out: Path, executable: str, checkpoint: str | None, timeout: float,
                    progress: Callable[[float], None] | None) -> Path:
    exe = executable or shutil.which("pointkit")
    if not exe or not (os.path.isfile(exe) or shutil.which(exe)):
        raise BackendError("pointkit executable not found: set its path in the add-on preferences "
                           "(Edit > Preferences > Add-ons > pointkit)")
    args = [exe, "-q", "lift", str(image), "--out", str(out), "--format", "npz"]
    if checkpoint:
        args += ["--checkpoint", checkpoint]
    start = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        while proc.poll() is None:
            elapsed = time.monotonic() - start
            if elapsed > timeout:
                proc.kill()
                proc.wait()
                raise BackendError(f"pointkit took longer than {timeout:.0f} s on {image.name}; raise the timeout in the preferences")
            if progress:
                progress(min(0.95, elapsed / (elapsed + 5.0)))  # no real estimate exists: creep toward 95 %
            time.sleep(0.05)
        err.seek(0)
        message = err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise BackendError(_first_line(message, f"pointkit exited with status {proc.returncode}"))
    path = out / f"{image.stem}.npz"
    if not path.is_file():
        raise BackendError(f"pointkit wrote no {path.name}; is {exe} a pointkit executable?")
    return path


def lift_image(image: str, mode: str = "AUTO", executable: str = "", checkpoint: str = "", timeout: float = 600.0,
               progress: Callable[[float], None] | None = None) -> Path:
    """The .npz depth file of ``image`` (cached: the same file and settings are lifted once).

    Raises:
        BackendError: a one-line message (bad image, missing model or executable, timeout).
    """
    path = Path(image)
    if not path.is_file():
        raise BackendError(f"{image}: no such file")
    if mode not in MODES:
        raise BackendError(f"unknown mode {mode!r}")
    if mode == "IN_PROCESS" and not in_process_available():
        raise BackendError("pointkit cannot be imported inside this Blender; choose the executable mode in the preferences")
    use_process = mode == "IN_PROCESS" or (mode == "AUTO" and in_process_available())
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, use_process, executable, checkpoint)
    cached = _CACHE.get(key)
    if cached is not None and cached.is_file():
        return cached
    out = Path(tempfile.mkdtemp(dir=_workdir()))
    result = (_run_in_process(path, out, checkpoint) if use_process
              else _run_executable(path, out, executable, checkpoint, timeout, progress))
    _CACHE[key] = result
    return result


def clear_cache() -> None:
    """Forget lifted files and remove the temporary folder (on unregister)."""
    _CACHE.clear()
    if _WORKDIR:
        shutil.rmtree(_WORKDIR[0], ignore_errors=True)
        _WORKDIR.clear()
