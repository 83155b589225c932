"""``pointkit view``'s turntable: today's open3d ray cast against pyrender (offscreen OpenGL), same run.

Both draw the same strip of the same mesh: the mesh centred and scaled into the unit sphere,
``--views`` orthographic frames of ``--size`` px orbiting +Y at ``--elevation`` (the cameras of
``pointkit.view.turntable``), vertex colours (textures sampled at the vertices), flat faces, a
light from up-left behind the camera plus ambient. Reports the median seconds per strip (after one
warm-up: pyrender's context and upload are timed, as a ``pointkit view`` process pays them), their
ratio, the silhouette IoU between the two strips' object pixels, and writes both strips one above
the other to ``--out`` for looking at.

pyrender is not a pointkit dependency; this needs ``pip install pyrender "PyOpenGL>=3.1.7"`` and, on
a machine without a GPU, OSMesa (Debian: ``libosmesa6``) with ``PYOPENGL_PLATFORM=osmesa`` (the
default here; ``egl`` on a GPU).

    .venv/bin/python benchmarks/view_preview.py MESH [MESH ...] [--views 8] [--size 256] [--runs 5] [--out strips.png]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from timing import median_time  # benchmarks/timing.py

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("PYOPENGL_PLATFORM", "osmesa")


def _unit_mesh(mesh):
    """The mesh centred and scaled into the unit sphere, with its vertex colours (N, 3) or grey."""
    import trimesh

    from pointkit.view import PLAIN, vertex_rgb

    v = np.asarray(mesh.vertices, np.float64)
    centred = v - (v.min(0) + v.max(0)) / 2
    unit = trimesh.Trimesh(centred / np.linalg.norm(centred, axis=1).max(), mesh.faces, process=False)
    colours = vertex_rgb(mesh)
    return unit, np.broadcast_to(PLAIN, v.shape) if colours is None else colours


def pyrender_turntable(mesh, views: int, size: int, elevation: float) -> np.ndarray:
    """(size, views * size, 3) uint8: the strip of ``turntable(mesh, views, size, elevation)`` drawn
    by pyrender (orthographic, flat shading, one directional light per frame plus ambient)."""
    import pyrender

    from pointkit.geometry.camera import OrthoCamera
    from pointkit.geometry.ortho import DEFAULT_MARGIN
    from pointkit.view import BACKGROUND

    unit, colours = _unit_mesh(mesh)
    flat = unit.copy()
    flat.visual.vertex_colors = (np.column_stack([colours, np.ones(len(colours))]) * 255).astype(np.uint8)
    scene = pyrender.Scene(bg_color=np.append(BACKGROUND, 1.0), ambient_light=np.full(3, 0.3))
    scene.add(pyrender.Mesh.from_trimesh(flat, smooth=False))
    extent = 1.0 + DEFAULT_MARGIN
    camera = scene.add(pyrender.OrthographicCamera(xmag=extent, ymag=extent, znear=0.01, zfar=20.0))
    light = scene.add(pyrender.DirectionalLight(intensity=1.0))
    renderer = pyrender.OffscreenRenderer(size, size)
    frames = []
    try:
        for k in range(views):
            w2c = OrthoCamera.orbit(k * 360.0 / views, elevation, size).world_to_camera  # x right, y down, z forward
            pose = np.eye(4)
            pose[:3, :3] = w2c[:, :3].T @ np.diag([1.0, -1.0, -1.0])  # OpenGL: y up, looking along -z
            pose[:3, 3] = -w2c[:, :3].T @ w2c[:, 3]
            scene.set_pose(camera, pose)
            toward = w2c[2, :3] - 0.5 * w2c[1, :3] + 0.3 * w2c[0, :3]  # the light's travel: from up-left behind
            light_pose = np.eye(4)
            z = -toward / np.linalg.norm(toward)
            x = np.cross([0.0, 1.0, 0.0], z)
            x /= np.linalg.norm(x)
            light_pose[:3, :3] = np.column_stack([x, np.cross(z, x), z])
            scene.set_pose(light, light_pose)
            colour, _ = renderer.render(scene, flags=pyrender.RenderFlags.SKIP_CULL_FACES)
            frames.append(colour[..., :3])
    finally:
        renderer.delete()
    return np.concatenate(frames, 1)


def _object(strip: np.ndarray) -> np.ndarray:
    from pointkit.view import BACKGROUND

    return np.abs(strip.astype(np.int16) - np.round(BACKGROUND * 255).astype(np.int16)).max(-1) > 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("meshes", nargs="+")
    ap.add_argument("--views", type=int, default=8)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--elevation", type=float, default=15.0)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=None, help="PNG: per mesh, the ray-cast strip above the pyrender strip")
    args = ap.parse_args()

    from PIL import Image

    from pointkit.view import load_viewable, turntable

    rows, pictures = [], []
    for path in args.meshes:
        mesh = load_viewable(path)
        ours = turntable(mesh, args.views, args.size, args.elevation)
        theirs = pyrender_turntable(mesh, args.views, args.size, args.elevation)
        t_ours = median_time(lambda: turntable(mesh, args.views, args.size, args.elevation), args.runs, warmup=1)
        t_pyr = median_time(
            lambda: pyrender_turntable(mesh, args.views, args.size, args.elevation), args.runs, warmup=1
        )
        a, b = _object(ours), _object(theirs)
        rows.append(
            {
                "mesh": Path(path).name,
                "faces": len(mesh.faces),
                "raycast s": round(t_ours, 3),
                "pyrender s": round(t_pyr, 3),
                "raycast / pyrender": round(t_ours / t_pyr, 2),
                "silhouette IoU": round(float((a & b).sum() / max((a | b).sum(), 1)), 4),
            }
        )
        pictures += [ours, theirs]
    if args.out:
        Image.fromarray(np.concatenate(pictures, 0)).save(args.out)
    print(
        json.dumps({"views": args.views, "size": args.size, "platform": os.environ["PYOPENGL_PLATFORM"], "rows": rows})
    )


if __name__ == "__main__":
    main()
