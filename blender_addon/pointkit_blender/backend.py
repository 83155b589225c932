"""Run ``pointkit lift`` on images in a background process and read its progress (no bpy here).

The process is ``python -m pointkit_cli.main`` when pointkit imports in this Python (a Blender
whose Python has pointkit installed, or the bpy wheel beside pointkit), else the ``pointkit``
executable; it is started with an argument list (never a shell) and ``--events``, so it prints one
JSON line per image as that image is done: :class:`LiftJob` reads them without blocking, which is
what lets the add-on's operator stay modal and cancellable. Results are cached per file and
settings, so Blender's redo panel rebuilds a mesh without running the network again.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODES = ("AUTO", "PYTHON", "EXECUTABLE")
_CACHE: dict[tuple, Path] = {}
_WORKDIR: list[Path] = []
_MODELS: dict[tuple, list[tuple[str, str]]] = {}


class BackendError(Exception):
    """pointkit failed; the message is one line for Blender's report area."""


def _workdir() -> Path:
    if not _WORKDIR or not _WORKDIR[0].is_dir():
        _WORKDIR[:] = [Path(tempfile.mkdtemp(prefix="pointkit-blender-"))]
    return _WORKDIR[0]


def python_available() -> bool:
    """Whether this Python can run pointkit's command line (``pointkit_cli`` imports)."""
    return importlib.util.find_spec("pointkit_cli") is not None


def command(mode: str = "AUTO", executable: str = "") -> list[str]:
    """The argument list that starts pointkit in ``mode`` (before the sub-command).

    Raises:
        BackendError: an unknown mode, no pointkit in this Python, or no executable.
    """
    if mode not in MODES:
        raise BackendError(f"unknown mode {mode!r} (choose one of {', '.join(MODES)})")
    if mode == "PYTHON" or (mode == "AUTO" and python_available()):
        if not python_available():
            raise BackendError(
                "pointkit cannot be imported in Blender's Python; choose the executable mode in the preferences"
            )
        return [sys.executable, "-m", "pointkit_cli.main"]
    exe = executable or shutil.which("pointkit")
    if not exe or not (os.path.isfile(exe) or shutil.which(exe)):
        raise BackendError(
            "pointkit executable not found: set its path in the add-on preferences "
            "(Edit > Preferences > Add-ons > pointkit)"
        )
    return [exe]


def last_error_line(text: str, fallback: str) -> str:
    """The CLI's own error: its last non-empty stderr line without "Error: " (progress bars come before it)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ") if lines else fallback


def _key(image: Path, prefix: list[str], checkpoint: str) -> tuple:
    stat = image.stat()
    return (str(image.resolve()), stat.st_mtime_ns, stat.st_size, tuple(prefix), checkpoint)


class LiftJob:
    """``pointkit lift --format npz --events`` over ``images`` in a background process.

    :meth:`poll` never blocks: it returns the events that arrived since the last call, one per
    image, ``{"image", "done", "total"}`` plus ``"npz"`` (the depth file) or ``"error"`` (one line).
    Images lifted before with the same settings come from the cache as the first events, without
    a process. :meth:`cancel` stops the process as ``kill`` would (pointkit removes the image it
    was writing); :attr:`error` is then set.

    Raises (constructor):
        BackendError: a missing image, an unknown mode, or no way to run pointkit.
    """

    def __init__(
        self,
        images: list[str | Path],
        mode: str = "AUTO",
        executable: str = "",
        checkpoint: str = "",
        timeout: float = 600.0,
    ):
        self.images = [Path(p) for p in images]
        for path in self.images:
            if not path.is_file():
                raise BackendError(f"{path}: no such file")
        self.timeout, self.error, self.stderr = timeout, None, ""
        self._prefix = command(mode, executable)
        self._checkpoint = checkpoint
        self._events: queue.Queue = queue.Queue()
        self._done = 0
        todo = []
        for path in self.images:
            cached = _CACHE.get(_key(path, self._prefix, checkpoint))
            if cached is not None and cached.is_file():
                self._emit({"image": str(path), "npz": str(cached)})
            else:
                todo.append(path)
        self._proc = self._start(todo) if todo else None
        self._last_progress = time.monotonic()

    @property
    def cached_only(self) -> bool:
        """Every image came from the cache: all events are already there."""
        return self._proc is None

    def _emit(self, event: dict) -> None:
        self._done += 1
        self._events.put({**event, "done": self._done, "total": len(self.images)})

    def _start(self, todo: list[Path]) -> subprocess.Popen:
        out = Path(tempfile.mkdtemp(dir=_workdir()))
        args = [*self._prefix, "-q", "lift", *map(str, todo), "--out", str(out), "--format", "npz", "--events"]
        if self._checkpoint:
            args += ["--checkpoint", self._checkpoint]
        self._stderr_file = tempfile.TemporaryFile()
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self._stderr_file, text=True)
        self._reader = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._reader.start()
        return proc

    def _read(self, proc: subprocess.Popen) -> None:
        """Reader thread: each event line of the process becomes a queued event (the summary line is not one)."""
        for line in proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or "done" not in event:
                continue
            image = Path(event["image"])
            if "outputs" in event:
                npz = Path(next(p for p in event["outputs"] if p.endswith(".npz")))
                _CACHE[_key(image, self._prefix, self._checkpoint)] = npz
                self._emit({"image": str(image), "npz": str(npz)})
            elif "error" in event:
                self._emit({"image": str(image), "error": event["error"]})

    def poll(self) -> list[dict]:
        """The events since the last call (empty while the process works on an image)."""
        events = []
        while True:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        if events:
            self._last_progress = time.monotonic()
        elif self.running and time.monotonic() - self._last_progress > self.timeout:
            self.cancel(f"pointkit made no progress for {self.timeout:.0f} s; raise the timeout in the preferences")
        return events

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def finished(self) -> bool:
        """The process has exited, its output is read and every event has been polled."""
        if self._proc is None:
            return self._events.empty()
        if self._proc.poll() is None or self._reader.is_alive():
            return False
        if self.error is None and self._proc.returncode != 0:
            self._stderr_file.seek(0)
            self.stderr = self._stderr_file.read().decode(errors="replace")
            self.error = last_error_line(self.stderr, f"pointkit exited with status {self._proc.returncode}")
        return self._events.empty()

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s); images already done stay done."""
        if self.running:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self.error = reason


def list_models(mode: str = "AUTO", executable: str = "", refresh: bool = False) -> list[tuple[str, str]]:
    """``(name, description)`` of the models ``pointkit models`` lists (cached; ``refresh`` asks again).

    Raises:
        BackendError: pointkit cannot be run, or its list cannot be read.
    """
    prefix = command(mode, executable)
    if refresh or tuple(prefix) not in _MODELS:
        try:
            run = subprocess.run([*prefix, "models", "--json"], capture_output=True, text=True, timeout=60)
            rows = json.loads(run.stdout) if run.returncode == 0 else None
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"cannot list pointkit's models: {exc}") from None
        if rows is None:
            raise BackendError(f"cannot list pointkit's models: {last_error_line(run.stderr, 'no output')}")
        _MODELS[tuple(prefix)] = [(row["name"], f"{row['source']}: {row['path']}") for row in rows]
    return _MODELS[tuple(prefix)]


def clear_cache() -> None:
    """Forget lifted files and model lists and remove the temporary folder (on unregister)."""
    _CACHE.clear()
    _MODELS.clear()
    if _WORKDIR:
        shutil.rmtree(_WORKDIR[0], ignore_errors=True)
        _WORKDIR.clear()
