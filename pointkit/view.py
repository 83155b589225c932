"""``pointkit view``: an offscreen turntable strip of a mesh or a depth map, with no GL at all.

Each frame is an orthographic ray cast (open3d ``RaycastingScene`` via :func:`pointkit.render.raycast`)
of the mesh, normalised into the unit sphere, from a camera orbiting the world +Y axis (frame 0
looks along -Z, i.e. at the front of a ``pointkit lift`` mesh). A pixel's colour is the mesh's
vertex colour (a texture is sampled at the vertices by trimesh) interpolated with the hit's
barycentric coordinates, times Lambert shading from a light over the camera's shoulder, so the
shape reads even on a plain mesh. Depth maps (``.npy`` from ``pointkit lift``, 0 = background;
``.npz`` pointkit depth files) are shown as the surface ``pointkit.meshing`` builds from them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np
import trimesh
from PIL import Image

from pointkit.errors import PointkitError
from pointkit.geometry.camera import OrthoCamera
from pointkit.jobs.settings import check, max_memory_setting, setting
from pointkit.memory import check_memory, view_bytes
from pointkit.render.raycast import raycast
from pointkit.render.sheet import save_sheet

BACKGROUND = np.array([0.93, 0.93, 0.95])
PLAIN = np.array([0.72, 0.72, 0.75])


@dataclass(kw_only=True)
class ViewConfig:
    """The settings of one ``pointkit view`` (each field's help says what it is); the command's
    options are made from these fields (:mod:`pointkit.jobs.settings`), so a default lives here only.
    ``view`` writes one image (or none), not a folder, so no ``config.json`` is saved."""

    path: str = setting(
        help="A mesh, a <stem>_depth.npy or a .npz from pointkit lift (the command's PATH).",
        type=click.Path(dir_okay=False),
        cli=False,
    )
    out: str | None = setting(None, "Turntable strip PNG to write.", type=click.Path(dir_okay=False))
    views: int = setting(8, "Frames in the strip.", type=click.IntRange(min=1))
    size: int = setting(256, "Frame side in pixels.", type=click.IntRange(16, 8192))
    elevation: float = setting(15.0, "Camera elevation in degrees.", type=float)
    arc: float = setting(
        360.0, "Degrees of azimuth the frames span (e.g. 120 for a relief seen from the front).", type=float
    )
    show: bool = setting(False, "Also open an open3d window (needs a display).", flag="--interactive")
    max_memory_gb: float | None = max_memory_setting("a strip")

    def __post_init__(self):
        if self.path is None:
            raise PointkitError("give PATH: a mesh, a <stem>_depth.npy or a .npz from pointkit lift")
        self.path = str(self.path)
        self.out = None if self.out is None else str(self.out)
        check(self)
        self.elevation, self.arc = float(self.elevation), float(self.arc)


def load_viewable(path: str | Path) -> trimesh.Trimesh:
    """A mesh (any trimesh format), a depth ``.npy`` ((H, W) float, 0 = background) or a pointkit
    ``.npz`` depth file, as one trimesh in the pointkit mesh frame where that applies.

    Raises:
        PointkitError: missing or unreadable file, or nothing to show.
    """
    from pointkit.meshing import depth_to_mesh

    path = Path(path)
    if not path.is_file():
        raise PointkitError(f"{path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path) as data:
                visual = trimesh.visual.TextureVisuals(uv=data["uv"], image=_pil(data["image"]))
                return trimesh.Trimesh(data["vertices"], data["faces"], visual=visual, process=False)
        if suffix == ".npy":
            depth = np.load(path, allow_pickle=False)
            if depth.ndim != 2:
                raise PointkitError(f"{path}: expected an (H, W) depth map, got shape {depth.shape}")
            return depth_to_mesh(depth, np.isfinite(depth) & (depth > 0)).to_trimesh()
        mesh = trimesh.load(path, force="mesh", process=False)
    except PointkitError as exc:
        message = str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}"
        raise PointkitError(message) from None
    except Exception as exc:  # numpy and trimesh raise many types for malformed files
        raise PointkitError(f"{path}: cannot read it as a mesh or depth map ({type(exc).__name__}: {exc})") from None
    if not isinstance(mesh, trimesh.Trimesh) or not len(mesh.faces):
        raise PointkitError(f"{path}: no triangles to show")
    return mesh


def _pil(array: np.ndarray):
    return Image.fromarray(np.asarray(array, np.uint8))


def vertex_rgb(mesh) -> np.ndarray | None:
    """(N, 3) float colours in [0, 1] per vertex (texture sampled by trimesh), or None if plain.

    ``mesh``: a ``trimesh.Trimesh`` or a :class:`pointkit.meshing.GridMesh`."""
    from pointkit.meshing import GridMesh

    if isinstance(mesh, GridMesh):
        return mesh.vertex_colours()[:, :3] / 255.0 if mesh.textured else None
    visual = mesh.visual
    if isinstance(visual, trimesh.visual.TextureVisuals):
        if visual.uv is None or visual.material is None:
            return None
        visual = visual.to_color()
    if visual.kind == "vertex":
        return np.asarray(visual.vertex_colors)[:, :3] / 255.0
    if visual.kind == "face":  # spread face colours to vertices (a preview needs no more)
        colours = np.zeros((len(mesh.vertices), 3))
        counts = np.zeros(len(mesh.vertices))
        np.add.at(colours, mesh.faces.ravel(), np.repeat(np.asarray(visual.face_colors)[:, :3] / 255.0, 3, 0))
        np.add.at(counts, mesh.faces.ravel(), 1)
        return colours / np.maximum(counts, 1)[:, None]
    return None


def turntable(
    mesh,
    views: int = ViewConfig.views,
    size: int = ViewConfig.size,
    elevation: float = ViewConfig.elevation,
    arc: float = ViewConfig.arc,
) -> np.ndarray:
    """Render ``views`` frames at azimuths spread over ``arc`` degrees (starting at 0, the front).

    Args:
        mesh: any triangle mesh, a ``trimesh.Trimesh`` or a :class:`pointkit.meshing.GridMesh` (it is
            centred and scaled into the unit sphere; not modified).
        views: number of frames; size: frame side in pixels; elevation: degrees above the equator.

    Returns:
        (size, views * size, 3) uint8 strip, frames left to right.
    """
    if views < 1 or size < 8:
        raise PointkitError(f"need at least 1 view of at least 8 px, got {views} views of {size} px")
    vertices = np.asarray(mesh.vertices, np.float64)
    lo, hi = vertices.min(0), vertices.max(0)
    centred = vertices - (lo + hi) / 2
    radius = max(float(np.linalg.norm(centred, axis=1).max()), 1e-12)
    unit = trimesh.Trimesh(centred / radius, mesh.faces, process=False)
    colours = vertex_rgb(mesh)
    step = arc / views if arc < 360 else 360.0 / views
    azimuths = [-arc / 2 + step / 2 + i * step for i in range(views)] if arc < 360 else [i * step for i in range(views)]
    cameras = [OrthoCamera.orbit(a, elevation, size) for a in azimuths]
    hits = raycast(unit, cameras)
    normals = np.asarray(unit.face_normals)
    faces = np.asarray(unit.faces)
    frames = []
    for k, camera in enumerate(cameras):
        frame = np.broadcast_to(BACKGROUND, (size, size, 3)).copy()
        m = hits.mask[k]
        if m.any():
            face = hits.face[k][m]
            forward = camera.world_to_camera[2, :3]
            # Light from up-left behind the camera; |n.l| lights back faces of open meshes too.
            light = -forward + 0.5 * -camera.world_to_camera[1, :3] - 0.3 * camera.world_to_camera[0, :3]
            light /= np.linalg.norm(light)
            shade = 0.3 + 0.7 * np.abs(normals[face] @ light)
            if colours is None:
                albedo = np.broadcast_to(PLAIN, (len(face), 3))
            else:
                b = hits.barycentric[k][m].astype(np.float64)
                weights = np.stack([1 - b[:, 0] - b[:, 1], b[:, 0], b[:, 1]], 1)
                albedo = np.einsum("nk,nkc->nc", weights, colours[faces[face]])
            frame[m] = albedo * shade[:, None]
        frames.append((np.clip(frame, 0, 1) * 255 + 0.5).astype(np.uint8))  # 3 bytes a pixel kept, not 24
    return np.concatenate(frames, 1)


def has_display() -> bool:
    """True when an X11 or Wayland display is available for an interactive window."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def interactive(mesh, title: str = "pointkit view") -> None:
    """Open an open3d window on the mesh (vertex colours when it has them)."""
    if not has_display():
        raise PointkitError("no display found (DISPLAY / WAYLAND_DISPLAY unset); write a PNG with --out instead")
    import open3d as o3d

    shown = o3d.geometry.TriangleMesh(
        o3d.utility.Vector3dVector(np.asarray(mesh.vertices, np.float64)),
        o3d.utility.Vector3iVector(np.asarray(mesh.faces, np.int32)),
    )
    colours = vertex_rgb(mesh)
    if colours is not None:
        shown.vertex_colors = o3d.utility.Vector3dVector(colours)
    shown.compute_vertex_normals()
    o3d.visualization.draw_geometries([shown], window_name=title)


def view(path: str | Path | ViewConfig, out: str | Path | None = None, **settings) -> dict:
    """The ``pointkit view`` job: write the turntable strip to ``out`` (PNG, atomically) and/or
    open an interactive window (``show``). ``path``: a :class:`ViewConfig`, or the file to show with
    ``out`` and any other ViewConfig fields as keywords (``views``, ``size``, ``elevation``,
    ``arc``, ``show``, ``max_memory_gb``). Returns ``{"input", "out", "views", "size", "vertices", "faces"}``.

    Raises:
        PointkitError: a bad setting or file, or a strip whose memory estimate
            (``pointkit.memory.view_bytes``) is over ``max_memory_gb`` (default
            ``pointkit.memory.default_limit_gb()``).
    """
    cfg = path if isinstance(path, ViewConfig) else ViewConfig(path=path, out=out, **settings)
    if cfg.out is None and not cfg.show:
        raise PointkitError("nothing to do: give --out PREVIEW.png and/or --interactive")
    mesh = load_viewable(cfg.path)
    if cfg.out is not None:
        check_memory(
            view_bytes(cfg.views, cfg.size, len(mesh.faces)),
            f"view --views {cfg.views} --size {cfg.size} of {len(mesh.faces):,} faces",
            cfg.max_memory_gb,
        )
        save_sheet(turntable(mesh, cfg.views, cfg.size, cfg.elevation, cfg.arc), cfg.out)
    if cfg.show:
        interactive(mesh, f"pointkit view {Path(cfg.path).name}")
    return {
        "input": cfg.path,
        "out": cfg.out,
        "views": cfg.views,
        "size": cfg.size,
        "vertices": len(mesh.vertices),
        "faces": len(mesh.faces),
    }
