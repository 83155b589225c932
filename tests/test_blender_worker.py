"""The Blender renderer's process boundary, with real Blender (bpy) in a real worker process: it
runs apart from pointkit's process (and without pointkit importable), a killed worker fails one
object with a one-line error and the next object gets a new worker, its images are byte-identical
to the worker's handler called in-process (the former in-process renderer), a bad
$POINTKIT_BLENDER is a one-line error, and the blender-executable command line works. Tiny renders."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_DATA, blender_worker_or_skip

blender_worker_or_skip()

from pointkit.errors import PointkitError  # noqa: E402
from pointkit_blender_renderer import BlenderRenderer  # noqa: E402
from pointkit_blender_renderer.process import BLENDER_ENV, WORKER_FILE  # noqa: E402

from pointkit.geometry.camera import OrthoCamera  # noqa: E402
from pointkit.render import normalise_mesh, sculpture  # noqa: E402

pytestmark = pytest.mark.blender
VIEWS = [(0.0, 0.0), (70.0, 25.0)]
TINY = dict(samples=2, threads=2)
APPEARANCE = str(SHARED_DATA / "appearance")


@pytest.fixture(scope="module")
def mesh():
    return normalise_mesh(sculpture(0, 3, kind="blob"))


def cameras(resolution: int, views=VIEWS) -> list[OrthoCamera]:
    return [OrthoCamera.orbit(a, e, resolution) for a, e in views]


def test_worker_is_another_process_without_pointkit(mesh):
    renderer = BlenderRenderer(**TINY)
    views = renderer.render(mesh, cameras(24), 1, VIEWS)
    assert views[0].image.shape == (24, 24, 3)
    assert renderer.worker_pid is not None and renderer.worker_pid != os.getpid()
    ping = renderer._transport.request({"op": "ping"})
    assert ping["pid"] == renderer.worker_pid
    assert ping["modules"] == []  # no pointkit, torch, trimesh, cv2 or PIL in the worker
    renderer.close()


def test_rendering_imports_no_bpy_here():
    # In a fresh interpreter: other tests of this session import bpy in-process (the add-on's).
    code = (
        "import sys\nfrom pointkit.render import render_views, sculpture\n"
        "v = render_views(sculpture(0, 3, kind='blob'), [(0, 0)], 16, renderer='blender', samples=1, threads=2)\n"
        "assert v[0].image.shape == (16, 16, 3)\nprint('bpy' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip().splitlines()[-1] == "False"


def test_killed_worker_fails_one_object_then_restarts(mesh):
    renderer = BlenderRenderer(**TINY)
    renderer.render(mesh, cameras(16), 1, VIEWS[:1])  # the worker is up
    first = renderer.worker_pid
    renderer.samples = 4000  # long enough to be killed mid-render

    def kill_when_busy():
        deadline = time.monotonic() + 60
        while not renderer._transport.busy and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        os.kill(first, signal.SIGKILL)

    killer = threading.Thread(target=kill_when_busy)
    killer.start()
    with pytest.raises(PointkitError) as caught:
        renderer.render(mesh, cameras(64), 2, VIEWS)
    killer.join()
    message = str(caught.value)
    assert "\n" not in message
    assert f"pid {first}" in message and "SIGKILL" in message and "-9" in message
    renderer.samples = 2
    views = renderer.render(mesh, cameras(16), 1, VIEWS)  # a new worker
    assert len(views) == 2 and renderer.worker_pid not in (None, first, os.getpid())
    renderer.close()


def _assert_same(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.coverage, y.coverage)
        np.testing.assert_array_equal(x.depth, y.depth)
        assert x.background == y.background


@pytest.mark.parametrize("style", ["plain", "photo"])
def test_identical_to_in_process_handler(mesh, style):
    pytest.importorskip("bpy")  # the baseline imports bpy here
    options, seeds, views = dict(TINY), (3, 4), VIEWS  # plain: two objects through one worker
    if style == "photo":  # about 3 s a view here, whatever the size: one view
        if not os.path.isdir(APPEARANCE):
            pytest.skip(f"appearance assets not found at {APPEARANCE}")
        options.update(style="photo", assets=APPEARANCE, material="texture", samples=1, denoise=False)
        seeds, views = (3,), VIEWS[1:]
    worker, here = BlenderRenderer(**options), BlenderRenderer.in_process(**options)
    for seed in seeds:
        a = worker.render(mesh, cameras(32, views), seed, views)
        b = here.render(mesh, cameras(32, views), seed, views)
        _assert_same(a, b)
    assert worker.worker_pid != os.getpid() and here.worker_pid == os.getpid()
    worker.close()


def _script(path: Path, text: str) -> str:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_bad_blender_env_is_one_line(tmp_path, monkeypatch, mesh):
    no_numpy = _script(tmp_path / "python-bare", f'exec "{sys.executable}" -S "$@"\n')  # no site-packages
    for value, expect in [
        (str(tmp_path / "nowhere"), "not an executable"),
        (_script(tmp_path / "tool", 'echo "tool 1.0"\n'), "neither a Python nor a blender"),
        (no_numpy, "before it was ready with status 1: ModuleNotFoundError: No module named 'numpy'"),
    ]:
        monkeypatch.setenv(BLENDER_ENV, value)
        with pytest.raises(PointkitError) as caught:
            BlenderRenderer(**TINY).render(mesh, cameras(16), 1, VIEWS[:1])
        message = str(caught.value)
        assert "\n" not in message and expect in message and BLENDER_ENV in message, message


def test_blender_executable_and_a_worker_without_pointkit(tmp_path, monkeypatch, mesh):
    """The ``blender --background --python worker.py --`` command line (through a stand-in
    ``blender`` that prints a banner, as Blender does, then runs the file with this Python), and a
    $POINTKIT_BLENDER Python on which pointkit cannot be imported at all."""
    fake = tmp_path / "hide" / "pointkit"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('the worker must not import pointkit')\n")
    blender = _script(
        tmp_path / "blender",
        f'''echo "Blender 5.0.1 (stand-in)"
[ "$1 $2 $3 $4 $5 $7" = "--background --factory-startup --python-exit-code 1 --python --" ] || exit 3
PYTHONPATH="{fake.parent}:$PYTHONPATH" exec "{sys.executable}" "$6"
''',
    )
    python = _script(
        tmp_path / "python-nopointkit", f'PYTHONPATH="{fake.parent}:$PYTHONPATH" exec "{sys.executable}" "$@"\n'
    )
    reference = BlenderRenderer(**TINY).render(mesh, cameras(24), 7, VIEWS)
    for chosen in (blender, python):
        monkeypatch.setenv(BLENDER_ENV, chosen)
        renderer = BlenderRenderer(**TINY)
        _assert_same(renderer.render(mesh, cameras(24), 7, VIEWS), reference)
        assert renderer._transport.proc.args[0] == chosen
        assert (str(WORKER_FILE) in renderer._transport.proc.args) == (chosen == blender)
        renderer.close()
