"""pointkit's side of the Blender worker (``worker.py``): which Blender to run, starting and
restarting the process, requests out and responses in.

Which Blender: ``$POINTKIT_BLENDER`` (a Python that has the bpy wheel, or a ``blender``
executable; told apart by name, else by its ``--version``), else this interpreter when it can
import bpy, else a PointkitError saying how to set it.
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
from pathlib import Path

import numpy as np

from pointkit.errors import PointkitError
from pointkit_blender_renderer.worker import PREFIX, respond

BLENDER_ENV = "POINTKIT_BLENDER"
PLUGIN_DIR = Path(__file__).resolve().parents[1]
WORKER_FILE = Path(__file__).resolve().with_name("worker.py")
HOW = (
    f"set {BLENDER_ENV} to a Python that has the bpy wheel (e.g. a Python 3.11 venv with "
    f"`pip install bpy==5.0.1`) or to a blender executable"
)
STARTUP_TIMEOUT_S = 300.0


def _executable_kind(path: str) -> str:
    """ "python" or "blender": by the file name, else by what ``path --version`` prints."""
    name = Path(path).name.lower()
    if name.startswith("blender"):
        return "blender"
    if name.startswith("python"):
        return "python"
    try:
        run = subprocess.run([path, "--version"], check=False, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PointkitError(f"${BLENDER_ENV}={path}: cannot run its --version ({exc}); {HOW}") from None
    said = (run.stdout + run.stderr).strip()
    if said.startswith("Blender") or "\nBlender " in said:
        return "blender"
    if said.startswith("Python"):
        return "python"
    first = said.splitlines()[0][:80] if said else "nothing"
    raise PointkitError(
        f"${BLENDER_ENV}={path} is neither a Python nor a blender executable (its --version said {first!r}); {HOW}"
    )


def worker_command() -> tuple[list[str], dict[str, str]]:
    """The command line and environment that start a worker (see the module docstring)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGIN_DIR), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONUNBUFFERED", "1")
    chosen = os.environ.get(BLENDER_ENV, "").strip()
    if chosen:
        path = shutil.which(os.path.expanduser(chosen))
        if path is None:
            raise PointkitError(f"${BLENDER_ENV}={chosen} is not an executable file; {HOW}")
        if _executable_kind(path) == "blender":
            return [
                path,
                "--background",
                "--factory-startup",
                "--python-exit-code",
                "1",
                "--python",
                str(WORKER_FILE),
                "--",
            ], env
        return [path, "-m", "pointkit_blender_renderer.worker"], env
    if importlib.util.find_spec("bpy") is not None:
        return [sys.executable, "-m", "pointkit_blender_renderer.worker"], env
    raise PointkitError(
        f"the blender renderer found no Blender: this Python has no bpy and ${BLENDER_ENV} is not set; {HOW}"
    )


def _status(code: int) -> str:
    if code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)


class WorkerProcess:
    """One long-lived worker process, started on the first request and again after it dies.

    ``request`` sends a render request (its ``mesh`` dict of arrays goes as an ``.npz`` in
    ``folder``) and returns the response; if the worker dies meanwhile (crash, kill) it raises a
    one-line PointkitError naming the exit status, and the next request starts a new worker.
    """

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="pointkit-blender-"))
        self.proc: subprocess.Popen | None = None
        self.busy = False
        self.ready: dict = {}
        self.log = self.folder / "worker-0.log"
        self._starts = self._requests = 0
        self._lines: queue.Queue = queue.Queue()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        command, env = worker_command()
        self.log = self.folder / f"worker-{self._starts}.log"
        self._starts += 1
        self._lines = queue.Queue()
        with open(self.log, "wb") as log:
            try:
                self.proc = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env, cwd=self.folder
                )
            except OSError as exc:
                raise PointkitError(f"cannot start the blender worker {command[0]}: {exc.strerror}; {HOW}") from None
        threading.Thread(target=_pump, args=(self.proc.stdout, self._lines), daemon=True).start()
        self.ready = self._receive("before it was ready", STARTUP_TIMEOUT_S)

    def request(self, message: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = None
            self.start()
        self._requests += 1
        rid = self._requests
        message = dict(message, id=rid)
        mesh_file = None
        if isinstance(message.get("mesh"), dict):
            mesh_file = self.folder / f"mesh-{rid}.npz"
            np.savez(mesh_file, **message["mesh"])
            message["mesh"] = str(mesh_file)
        self.busy = True
        try:
            try:
                self.proc.stdin.write((json.dumps(message) + "\n").encode())
                self.proc.stdin.flush()
            except OSError:
                pass  # it died: _receive reports how
            while True:
                response = self._receive("while rendering")
                if response.get("id") == rid:
                    return response
        finally:
            self.busy = False
            if mesh_file is not None:
                mesh_file.unlink(missing_ok=True)

    def _receive(self, when: str, timeout: float | None = None) -> dict:
        """The next protocol message; PointkitError when the worker ends (or is not ready in time)."""
        waited = 0.0
        while True:
            try:
                message = self._lines.get(timeout=0.5)
            except queue.Empty:
                waited += 0.5
                if timeout is not None and waited >= timeout:
                    self._kill()
                    raise PointkitError(
                        f"the blender worker ({self.proc.args[0]}) was not ready after {timeout:.0f} s; "
                        f"its log: {self.log}"
                    ) from None
                continue
            if message is not None:
                return message
            raise self._died(when)

    def _died(self, when: str) -> PointkitError:
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # it closed stdout but lives on: end it
            self._kill()
            code = self.proc.returncode
        pid, program = self.proc.pid, self.proc.args[0]
        self.proc = None
        message = f"the blender worker ({program}, pid {pid}) exited {when} with status {_status(code)}"
        last = _last_line(self.log) if code > 0 else ""  # after a signal the log's end says nothing of it
        if last:
            message += f": {last}"
        if when == "before it was ready":
            return PointkitError(f"{message}; {HOW}")
        return PointkitError(f"{message}; the next object starts a new worker (log: {self.log})")

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        """End the worker (politely when idle, then by kill) and remove its folder."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None and self.busy:  # interrupted mid-render: no waiting
            proc.kill()
            proc.wait()
        if proc is not None and proc.poll() is None:
            try:
                proc.stdin.write(b'{"op": "quit"}\n')
                proc.stdin.close()
                proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                proc.kill()
                proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class InProcess:
    """The worker's handler called in this process (bpy imported here): the old in-process
    renderer's behaviour, kept as the baseline for the benchmark and the identity tests."""

    def __init__(self):
        self.folder = Path(tempfile.mkdtemp(prefix="pointkit-blender-"))
        self.pid = os.getpid()

    def request(self, message: dict) -> dict:
        return respond(message)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _pump(stream, lines: queue.Queue) -> None:
    """Reader thread: the protocol messages of one worker, then None at end of stream."""
    try:
        for raw in stream:
            text = raw.decode("utf-8", "replace")
            if text.startswith(PREFIX):
                try:
                    lines.put(json.loads(text[len(PREFIX) :]))
                except json.JSONDecodeError:
                    continue
    finally:
        lines.put(None)


def _last_line(log: Path) -> str:
    """The last non-empty line of the worker's log (its traceback's last line, say), shortened."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            tail = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""
