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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from pointkit import meshfiles
from pointkit.defaults import MESH_MAX_SIDE
from pointkit.errors import PointkitError
from pointkit.io import write_bytes_atomic, write_npz_atomic

DEFAULT_MAX_SIDE = MESH_MAX_SIDE
DEFAULT_MAX_SLOPE = 8.0


@dataclass
class GridMesh:
    """The triangle mesh of a depth map: plain arrays, so that lifting needs no mesh library
    (importing trimesh takes about 1.1 s; :meth:`to_trimesh` converts on demand).

    Attributes:
        vertices: (N, 3) float64 in the frame of the module docstring.
        faces: (F, 3) int64 vertex indices, front faces counter-clockwise seen from +z.
        uv: (N, 2) float64 texture coordinates (origin bottom-left, v up), or None.
        texture: (H, W, 3) uint8 texture image, or None.
        metadata: ``image_size`` [H, W] and ``z_ref``.
    """

    vertices: np.ndarray
    faces: np.ndarray
    uv: np.ndarray | None = None
    texture: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def textured(self) -> bool:
        return self.uv is not None and self.texture is not None

    @property
    def face_normals(self) -> np.ndarray:
        """(F, 3) unit normals of the faces (right-hand rule)."""
        return _unit(self._face_cross())

    @property
    def vertex_normals(self) -> np.ndarray:
        """(N, 3) unit vertex normals: the area-weighted mean of the adjacent faces' normals."""
        cross = self._face_cross()  # |cross| = twice the face's area
        corners = self.faces.ravel()  # each face's cross product goes to its 3 corners
        summed = [np.bincount(corners, np.repeat(cross[:, i], 3), len(self.vertices)) for i in range(3)]
        return _unit(np.stack(summed, 1))

    def _face_cross(self) -> np.ndarray:
        a, b, c = (self.vertices[self.faces[:, k]] for k in range(3))
        return np.cross(b - a, c - a)

    def vertex_colours(self) -> np.ndarray:
        """(N, 4) uint8 RGBA: the texture's pixel under each vertex's UV (opaque grey if untextured)."""
        if not self.textured:
            return np.full((len(self.vertices), 4), (200, 200, 200, 255), np.uint8)
        H, W = self.texture.shape[:2]
        col = np.clip((self.uv[:, 0] * W).astype(int), 0, W - 1)
        row = np.clip(((1 - self.uv[:, 1]) * H).astype(int), 0, H - 1)
        return np.concatenate([self.texture[row, col, :3], np.full((len(self.uv), 1), 255, np.uint8)], 1)

    def texture_png(self) -> bytes:
        """The texture as PNG bytes (raises ValueError when untextured)."""
        if self.texture is None:
            raise ValueError("this mesh has no texture")
        ok, data = cv2.imencode(".png", cv2.cvtColor(self.texture[..., :3], cv2.COLOR_RGB2BGR))
        if not ok:
            raise PointkitError("OpenCV could not encode the mesh texture as PNG")
        return data.tobytes()

    def apply_scale(self, factor: float) -> None:
        """Scale the vertices (about the origin) and ``z_ref`` in place: a change of units."""
        self.vertices = self.vertices * factor
        if "z_ref" in self.metadata:
            self.metadata["z_ref"] *= factor

    def export(self, path: str | Path) -> list[Path]:
        """Write the mesh by its suffix (.glb, .ply, .obj); see :func:`export_mesh`."""
        return export_mesh(self, path)

    def to_trimesh(self):
        """The same mesh as a ``trimesh.Trimesh`` (textured when this one is); imports trimesh."""
        import trimesh
        from PIL import Image

        visual = None
        if self.textured:
            # White diffuse/ambient: viewers multiply the texture by it (trimesh's default grey darkens it).
            material = trimesh.visual.material.SimpleMaterial(
                image=Image.fromarray(self.texture[..., :3]),
                diffuse=(255, 255, 255, 255),
                ambient=(255, 255, 255, 255),
                specular=(0, 0, 0, 255),
            )
            visual = trimesh.visual.TextureVisuals(uv=self.uv, material=material)
        mesh = trimesh.Trimesh(self.vertices, self.faces, visual=visual, process=False)
        mesh.metadata.update(self.metadata)
        return mesh


def _unit(vectors: np.ndarray) -> np.ndarray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.where(length > 0, length, 1.0)


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
) -> GridMesh:
    """Triangulate a depth map in the frame of the module docstring.

    Args:
        depth: (H, W) float camera depth, in units of the image's longer side (larger = farther).
        mask: (H, W) bool object pixels.
        image: (H, W, 3) uint8 texture (UVs map it exactly onto the input view), or None for an
            untextured mesh.
        max_side: vertex grid samples on the longer side (the depth is area-averaged down to it).
        max_slope: drop triangles whose depth range exceeds this many grid steps.

    Returns:
        GridMesh with ``uv`` (N, 2) and ``texture`` when ``image`` is given; ``metadata`` holds
        ``image_size`` [H, W] and ``z_ref``.

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
    uv = texture = None
    if image is not None:
        texture = np.asarray(image, np.uint8)
        if texture.shape[:2] != (H, W):
            raise ValueError(f"image must be ({H}, {W}, 3) like the depth, got {texture.shape}")
        uv = np.stack([px / W, 1.0 - py / H], 1)
    return GridMesh(vertices, remap[tris], uv, texture, {"image_size": [H, W], "z_ref": float(z_ref)})


def save_depth_npz(
    path: str | Path,
    depth: np.ndarray,
    mask: np.ndarray,
    image: np.ndarray,
    mesh: GridMesh,
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
    uv = np.asarray(mesh.uv, np.float32) if mesh.uv is not None else np.zeros((len(mesh.vertices), 2), np.float32)
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


def export_points(mesh: GridMesh, path: str | Path) -> Path:
    """Write the mesh's vertices as a binary PLY point cloud, atomically: x y z, the vertex normals
    (nx ny nz) and the texture's colour at each vertex (red green blue alpha)."""
    data = meshfiles.ply_bytes(mesh.vertices, normals=mesh.vertex_normals, colours=mesh.vertex_colours())
    return write_bytes_atomic(Path(path), data)


def export_glb(mesh: GridMesh, path: str | Path) -> list[Path]:
    """Write a binary glTF atomically: vertex normals, and the texture inside. Returns ``[path]``."""
    png = mesh.texture_png() if mesh.textured else None
    data = meshfiles.glb_bytes(mesh.vertices, mesh.faces, mesh.vertex_normals, mesh.uv, png)
    return [write_bytes_atomic(Path(path), data)]


def export_ply(mesh: GridMesh, path: str | Path) -> list[Path]:
    """Write a PLY mesh atomically, with per-vertex colours sampled from the texture (PLY has no
    standard texture reference). Returns ``[path]``."""
    data = meshfiles.ply_bytes(mesh.vertices, mesh.faces, colours=mesh.vertex_colours())
    return [write_bytes_atomic(Path(path), data)]


def export_obj(mesh: GridMesh, path: str | Path) -> list[Path]:
    """Write an OBJ atomically: ``<stem>.mtl`` and the texture ``<stem>_material_0.png`` beside it
    first, the .obj last, so a reader never sees an .obj without its material (and a failed .obj
    leaves neither behind). Returns the files written, the .obj last."""
    path = Path(path)
    mtl = path.with_name(f"{path.stem}.mtl")
    texture = path.with_name(f"{path.stem}_material_0.png")
    beside = {mtl: meshfiles.mtl_text(texture.name).encode(), texture: mesh.texture_png()} if mesh.textured else {}
    written = []
    try:
        for target, data in beside.items():
            write_bytes_atomic(target, data)
            written.append(target)
        text = meshfiles.obj_text(mesh.vertices, mesh.faces, mesh.uv, mtl.name if beside else None)
        write_bytes_atomic(path, text.encode())
    except BaseException:  # no .mtl / texture left behind without their .obj
        for target in written:
            target.unlink(missing_ok=True)
        raise
    return written + [path]


MESH_WRITERS = {"glb": export_glb, "ply": export_ply, "obj": export_obj}
"""Mesh file writers by suffix: ``(mesh, path) -> files written, the mesh file last``."""


def export_mesh(mesh: GridMesh, path: str | Path) -> list[Path]:
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
            :class:`pointkit.lifting.pipeline.LiftResult` (``mesh``, ``depth``, ``mask``, ``image``,
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
