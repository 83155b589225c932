r"""Depth map + mask + image -> textured triangle mesh, and the mesh / depth-file exporters.

The mesh frame (docs/lift.md), for an H x W input image with longer side L = max(H, W):

* x right, y up, z toward the viewer (right-handed; the glTF habit);
* one unit = the image's longer side: pixel centre (u, v) sits at
  ``x = (u - W/2) / L``, ``y = (H/2 - v) / L``, so the image spans [-W/2L, W/2L] x [-H/2L, H/2L];
* ``z = z_ref - depth`` (depth = camera z in the same units, larger = farther), with ``z_ref`` the
  middle of the object's depth range, so the object is centred on z = 0;
* the input view is the orthographic camera looking along -z whose view width (longer side) is 1
  unit: it reproduces the input image pixel for pixel.

Vertices sit on the pixel centres of a grid of at most ``max_side`` samples on the longer side
(the texture keeps the full resolution); two triangles per 2 x 2 block of object samples, front
faces toward +z; a triangle whose depths differ by more than ``max_slope`` grid steps is dropped,
so no face bridges a depth discontinuity.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import trimesh
from PIL import Image

from pointkit.defaults import MESH_MAX_SIDE
from pointkit.errors import PointkitError
from pointkit.io import atomic_path, write_bytes_atomic, write_npz_atomic

DEFAULT_MAX_SIDE = MESH_MAX_SIDE
DEFAULT_MAX_SLOPE = 8.0


def grid_samples(shape: tuple[int, int], max_side: int = DEFAULT_MAX_SIDE) -> tuple[int, int]:
    """(h, w) of the vertex grid of an (H, W) image: the image itself when it fits in ``max_side``."""
    H, W = shape
    step = max(1, int(np.ceil(max(H, W) / max_side)))
    return max(1, round(H / step)), max(1, round(W / step))


def depth_to_mesh(
    depth: np.ndarray,
    mask: np.ndarray,
    image: np.ndarray | None = None,
    max_side: int = DEFAULT_MAX_SIDE,
    max_slope: float = DEFAULT_MAX_SLOPE,
) -> trimesh.Trimesh:
    """Triangulate a depth map in the frame of the module docstring.

    Args:
        depth: (H, W) float camera depth, in units of the image's longer side (larger = farther).
        mask: (H, W) bool object pixels.
        image: (H, W, 3) uint8 texture (UVs map it exactly onto the input view), or None for an
            untextured mesh.
        max_side: vertex grid samples on the longer side (the depth is area-averaged down to it).
        max_slope: drop triangles whose depth range exceeds this many grid steps.

    Returns:
        trimesh.Trimesh with ``visual.uv`` (N, 2) when ``image`` is given; ``metadata`` holds
        ``image_size`` (H, W) and ``z_ref``.

    Raises:
        PointkitError: the mask has no 2 x 2 block of object pixels (nothing to triangulate).
    """
    depth = np.asarray(depth, np.float64)
    mask = np.asarray(mask, bool)
    if depth.shape != mask.shape or depth.ndim != 2:
        raise ValueError(f"depth and mask must be one (H, W) shape, got {depth.shape} and {mask.shape}")
    H, W = depth.shape
    L = float(max(H, W))
    h, w = grid_samples((H, W), max_side)
    if (h, w) != (H, W):
        # Area-average depth over object pixels only, so the background never bleeds into the object.
        weight = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        summed = cv2.resize(np.where(mask, depth, 0).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        grid_mask = weight >= 0.5
        grid_depth = np.where(grid_mask, summed / np.maximum(weight, 1e-6), 0.0).astype(np.float64)
    else:
        grid_mask, grid_depth = mask, depth
    if not grid_mask.any():
        raise PointkitError("the object mask is empty: nothing to mesh")
    z_ref = 0.5 * (grid_depth[grid_mask].min() + grid_depth[grid_mask].max())
    # Sample (i, j) of the grid covers image pixels; its centre in image pixel coordinates:
    u = (np.arange(w) + 0.5) * (W / w)
    v = (np.arange(h) + 0.5) * (H / h)
    index = -np.ones((h, w), np.int64)
    index[grid_mask] = np.arange(int(grid_mask.sum()))
    a, b = index[:-1, :-1], index[:-1, 1:]  # (v, u), (v, u+1)
    c, d = index[1:, :-1], index[1:, 1:]  # (v+1, u), (v+1, u+1)
    tris = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3), np.stack([b, c, d], -1).reshape(-1, 3)])
    tris = tris[(tris >= 0).all(1)]
    zv = grid_depth[grid_mask]
    step = max(W / w, H / h) / L  # one grid step in mesh units
    tri_z = zv[tris]
    tris = tris[tri_z.max(1) - tri_z.min(1) <= max_slope * step]
    if not len(tris):
        raise PointkitError("the object mask has no 2x2 block of object pixels: nothing to mesh")
    used = np.unique(tris)
    remap = -np.ones(len(zv), np.int64)
    remap[used] = np.arange(len(used))
    vv, uu = np.nonzero(grid_mask)
    px, py = u[uu][used], v[vv][used]
    vertices = np.stack([(px - W / 2) / L, (H / 2 - py) / L, z_ref - zv[used]], 1)
    visual = None
    if image is not None:
        image = np.asarray(image, np.uint8)
        if image.shape[:2] != (H, W):
            raise ValueError(f"image must be ({H}, {W}, 3) like the depth, got {image.shape}")
        uv = np.stack([px / W, 1.0 - py / H], 1)
        # White diffuse/ambient: viewers multiply the texture by it (trimesh's default grey darkens it).
        material = trimesh.visual.material.SimpleMaterial(
            image=Image.fromarray(image[..., :3]),
            diffuse=(255, 255, 255, 255),
            ambient=(255, 255, 255, 255),
            specular=(0, 0, 0, 255),
        )
        visual = trimesh.visual.TextureVisuals(uv=uv, material=material)
    mesh = trimesh.Trimesh(vertices, remap[tris], visual=visual, process=False)
    mesh.metadata.update(image_size=[H, W], z_ref=float(z_ref))
    return mesh


def vertex_colours(mesh: trimesh.Trimesh) -> np.ndarray:
    """(N, 4) uint8 colours of a textured grid mesh: the texture sampled at each vertex's UV."""
    image = np.asarray(mesh.visual.material.image.convert("RGB"))
    H, W = image.shape[:2]
    uv = np.asarray(mesh.visual.uv)
    col = np.clip((uv[:, 0] * W).astype(int), 0, W - 1)
    row = np.clip(((1 - uv[:, 1]) * H).astype(int), 0, H - 1)
    return np.concatenate([image[row, col], np.full((len(uv), 1), 255, np.uint8)], 1)


def save_depth_npz(
    path: str | Path,
    depth: np.ndarray,
    mask: np.ndarray,
    image: np.ndarray,
    mesh: trimesh.Trimesh,
    info: dict | None = None,
) -> Path:
    """Write the pointkit depth file (.npz) atomically.

    Keys: ``depth`` (H, W) float32, ``mask`` (H, W) bool, ``image`` (H, W, 3) uint8, ``vertices``
    (N, 3) float32 and ``faces`` (F, 3) int32 in the mesh frame, ``uv`` (N, 2) float32, ``info``
    (a JSON string: frame, units, how the depth was resolved). The Blender add-on reads it with
    numpy alone.
    """
    meta = {
        "frame": "x right, y up, z toward the viewer; 1 unit = the image's longer side",
        "image_size": list(depth.shape),
        **(info or {}),
        **{k: mesh.metadata[k] for k in ("z_ref",) if k in mesh.metadata},
    }
    uv = (
        np.asarray(mesh.visual.uv, np.float32)
        if getattr(mesh.visual, "uv", None) is not None
        else np.zeros((len(mesh.vertices), 2), np.float32)
    )
    return write_npz_atomic(
        path,
        depth=np.asarray(depth, np.float32),
        mask=np.asarray(mask, bool),
        image=np.asarray(image, np.uint8),
        vertices=np.asarray(mesh.vertices, np.float32),
        faces=np.asarray(mesh.faces, np.int32),
        uv=uv,
        info=np.array(json.dumps(meta)),
    )


def normal_map(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 unit normals of a depth map in the mesh frame (x right, y up, z toward the
    viewer; depth in units of the longer side), 0 off the object.

    The surface is z = -depth(u, v) with x = u / L, y = -v / L, so n is proportional to
    (L dd/du, -L dd/dv, 1); derivatives are central differences, with the background filled by
    the nearest object pixel's depth so that the silhouette does not read as a cliff.
    """
    from scipy.ndimage import distance_transform_edt

    depth = np.asarray(depth, np.float64)
    mask = np.asarray(mask, bool)
    if not mask.any():
        return np.zeros(depth.shape + (3,), np.float32)
    L = float(max(depth.shape))
    nearest = distance_transform_edt(~mask, return_distances=False, return_indices=True)
    filled = depth[nearest[0], nearest[1]]
    dv, du = np.gradient(filled)
    n = np.stack([L * du, -L * dv, np.ones_like(du)], -1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(mask[..., None], n, 0.0).astype(np.float32)


def _textured(mesh: trimesh.Trimesh) -> bool:
    return getattr(mesh.visual, "uv", None) is not None and getattr(mesh.visual, "material", None) is not None


def export_points(mesh: trimesh.Trimesh, path: str | Path) -> Path:
    """Write the mesh's vertices as a binary PLY point cloud, atomically: x y z, the vertex normals
    (nx ny nz) and the texture's colour at each vertex (red green blue alpha)."""
    path = Path(path)
    colours = vertex_colours(mesh) if _textured(mesh) else np.asarray(mesh.visual.vertex_colors)
    cloud = trimesh.Trimesh(
        vertices=mesh.vertices,
        faces=np.zeros((0, 3), np.int64),
        vertex_normals=mesh.vertex_normals,
        vertex_colors=colours,
        process=False,
    )
    data = trimesh.exchange.ply.export_ply(cloud, encoding="binary", vertex_normal=True)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return path


def export_glb(mesh: trimesh.Trimesh, path: str | Path) -> list[Path]:
    """Write a binary glTF atomically, the texture inside. Returns ``[path]``."""
    path = Path(path)
    with atomic_path(path) as tmp:
        mesh.export(tmp, file_type="glb")
    return [path]


def export_ply(mesh: trimesh.Trimesh, path: str | Path) -> list[Path]:
    """Write a PLY mesh atomically, with per-vertex colours sampled from the texture (PLY has no
    standard texture reference). Returns ``[path]``."""
    path = Path(path)
    out = mesh.copy()
    if _textured(mesh):
        out.visual = trimesh.visual.ColorVisuals(out, vertex_colors=vertex_colours(mesh))
    with atomic_path(path) as tmp:
        out.export(tmp, file_type="ply")
    return [path]


def export_obj(mesh: trimesh.Trimesh, path: str | Path) -> list[Path]:
    """Write an OBJ atomically: ``<stem>.mtl`` and the texture ``<stem>_material_0.png`` beside it
    first, the .obj last, so a reader never sees an .obj without its material (and a failed .obj
    leaves neither behind). Returns the files written, the .obj last."""
    path = Path(path)
    text, files = trimesh.exchange.obj.export_obj(
        mesh, include_texture=_textured(mesh), return_texture=True, mtl_name=f"{path.stem}.mtl"
    )
    written = []
    try:
        for name, data in files.items():
            # trimesh names the texture "material_0.png": give it this mesh's stem so meshes in one folder do not clash.
            target = path.with_name(name if name.endswith(".mtl") else f"{path.stem}_{name}")
            if name.endswith(".mtl"):
                data = data.replace(b"material_0.png", f"{path.stem}_material_0.png".encode())
            write_bytes_atomic(target, data)
            written.append(target)
        write_bytes_atomic(path, text.encode())
    except BaseException:  # no .mtl / texture left behind without their .obj
        for target in written:
            target.unlink(missing_ok=True)
        raise
    return written + [path]


MESH_WRITERS = {"glb": export_glb, "ply": export_ply, "obj": export_obj}
"""Mesh file writers by suffix: ``(mesh, path) -> files written, the mesh file last``."""


def export_mesh(mesh: trimesh.Trimesh, path: str | Path) -> list[Path]:
    """Write a mesh atomically with the writer of its suffix (``MESH_WRITERS``: .glb, .ply, .obj).

    Returns:
        The files written (the mesh file last).
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in MESH_WRITERS:
        raise PointkitError(f"{path}: unknown mesh format {fmt!r}; use one of {', '.join(MESH_WRITERS)}")
    return MESH_WRITERS[fmt](mesh, path)


@dataclass(frozen=True)
class Exporter:
    """One ``pointkit lift --format``: what a ``pointkit.exporters`` entry point names.

    Attributes:
        suffix: what follows the image's stem in the file name (".glb", "_points.ply").
        write: ``write(result, path) -> files written``: write a
            :class:`pointkit.lifting.LiftResult` (``mesh``, ``depth``, ``mask``, ``image``,
            ``info``) to ``path`` atomically; return every file written, ``path`` last (files
            beside it first, and none of them left behind when writing ``path`` fails).
    """

    suffix: str
    write: Callable[[Any, Path], list[Path]]


# The built-in exporters, registered in pyproject.toml like a plugin's. Globals are looked up at
# call time, so a patched writer is the one used.
GLB = Exporter(".glb", lambda result, path: export_glb(result.mesh, path))
"""glb: binary glTF, textured."""
PLY = Exporter(".ply", lambda result, path: export_ply(result.mesh, path))
"""ply: mesh with vertex colours."""
OBJ = Exporter(".obj", lambda result, path: export_obj(result.mesh, path))
"""obj: with ``<stem>.mtl`` and ``<stem>_material_0.png``."""
POINTS = Exporter("_points.ply", lambda result, path: [export_points(result.mesh, path)])
"""points: binary PLY point cloud with normals and colours."""
NPZ = Exporter(
    ".npz",
    lambda result, path: [save_depth_npz(path, result.depth, result.mask, result.image, result.mesh, result.info)],
)
"""npz: the pointkit depth file the Blender add-on imports."""
