"""The Blender worker: a separate, long-lived process that owns bpy and renders for BlenderRenderer.

Started by ``BlenderRenderer`` (``process.py``) as either of

    PYTHON -m pointkit_blender_renderer.worker      (a Python with the bpy wheel; PYTHONPATH=<plugin folder>)
    blender --background --factory-startup --python-exit-code 1 --python worker.py --

It imports only bpy, numpy, mathutils and this package's ``scene`` (not pointkit, trimesh, cv2 or
PIL), so bpy's pins (bpy 5.0: Python 3.11, numpy < 2) never meet pointkit's, and a Blender crash
takes down this process only.

Protocol: one JSON request per line on stdin, one JSON response per line on the process's original
stdout, each prefixed with ``PREFIX`` (the reader skips lines without it, e.g. Blender's banner).
At startup file descriptor 1 is pointed at stderr (the parent's log file), so what Blender and
Cycles print from C cannot corrupt the protocol. The first line is ``{"ready": true, "pid": ...}``;
then for each request ``respond(request)`` plus its ``id``. ``{"op": "quit"}`` or EOF on stdin ends
the worker. Arrays travel as files: the request names a mesh ``.npz`` and an output folder, the
response names the PNGs written there (the parent decodes them, as the in-process renderer did).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

if __name__ == "__main__" and not __package__:  # run as a file: blender --python worker.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PREFIX = "@pointkit-worker "


def handle(request: dict) -> dict:
    """Serve one request (raises on failure; ``respond`` turns that into an error response).

    ``{"op": "ping"}`` -> ``{"ok": true, "pid", "modules"}`` (the pointkit-side modules loaded here).

    ``{"op": "render", "style": "plain" | "photo", "mesh": MESH, "rng": STATE, "build": {...},
    "cameras": [CAMERA, ...], "out": DIR}``: build the scene with ``scene.build`` (plain) or
    ``scene.build_photo`` (photo; ``build`` then has ``root``), drawing from a generator set to
    ``STATE`` (numpy's ``bit_generator.state``), and render each camera to ``DIR/view-<i>.png``.
    MESH is the path of an ``.npz`` with ``vertices``, ``faces`` (and ``face_normals`` for the
    photo style), or a dict of those arrays (in-process calls). CAMERA is a dict for
    ``scene.place_camera``. Returns ``{"ok": true, "pid", "rng": STATE after building, "info":
    what was drawn, "images": [paths]}``: the caller continues from that state, so its later draws
    (backgrounds, camera effects) are the ones the in-process renderer made.
    """
    op = request.get("op")
    if op == "ping":
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pointkit", "torch", "trimesh", "cv2", "PIL"))
        return {"ok": True, "pid": os.getpid(), "modules": loaded}
    if op != "render":
        raise ValueError(f"unknown op {op!r}")
    from pointkit_blender_renderer import scene

    mesh = request["mesh"]
    if isinstance(mesh, (str, os.PathLike)):
        with np.load(mesh) as data:
            mesh = {key: data[key] for key in data.files}
    mesh = SimpleNamespace(**mesh)
    state = request["rng"]
    rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
    rng.bit_generator.state = state
    options = dict(request["build"])
    if request["style"] == "photo":
        info = scene.build_photo(mesh, rng, Path(options.pop("root")), **options)
    else:
        scene.build(mesh, rng, **options)
        info = {"material": options["material"]}
    out = Path(request["out"])
    out.mkdir(parents=True, exist_ok=True)
    images = []
    for i, camera in enumerate(request["cameras"]):
        path = out / f"view-{i}.png"
        scene.render_png(camera, path)
        images.append(str(path))
    return {"ok": True, "pid": os.getpid(), "rng": rng.bit_generator.state, "info": info, "images": images}


def respond(request: dict) -> dict:
    """``handle(request)``, with an exception turned into ``{"ok": false, "error": one line}``."""
    try:
        return handle(request)
    except Exception as exc:  # noqa: BLE001 -- the worker serves the next object; the parent raises PointkitError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return {"ok": False, "error": f"{type(exc).__name__}: {first}" if first else type(exc).__name__}


def main() -> None:
    sys.stdout.flush()
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # Blender's and Cycles' prints (from C too) go to the log, not into the protocol

    def send(message: dict) -> None:
        protocol.write(PREFIX + json.dumps(message) + "\n")
        protocol.flush()

    import bpy  # after the redirection: its import prints

    send(
        {
            "ready": True,
            "pid": os.getpid(),
            "bpy": bpy.app.version_string,
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        }
    )
    for line in iter(sys.stdin.readline, ""):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as exc:
            send({"ok": False, "error": f"bad request line: {exc}"})
            continue
        if request.get("op") == "quit":
            break
        send({**respond(request), "id": request.get("id")})


if __name__ == "__main__":
    main()
