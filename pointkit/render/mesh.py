"""Mesh loading and normalisation through trimesh."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from pointkit.errors import PointkitError

MESH_SUFFIXES = (".obj", ".ply", ".stl", ".off", ".glb", ".gltf")
"""File types that ``pointkit render-synthetic --meshes DIR`` picks up."""


UP_AXES = ("y", "z")
"""Up axes a mesh file may have: "y" (pointkit's, glTF's) or "z" (many scanners and CAD tools)."""


def load_mesh(path: str | Path, up: str = "y") -> trimesh.Trimesh:
    """Read a mesh file (OBJ / PLY / STL / OFF / GLB / glTF) as one triangle mesh.

    Scenes are flattened (all geometry, with its transforms, concatenated); materials are
    dropped. A Z-up file (``up="z"``) is turned to pointkit's Y-up, (x, y, z) -> (x, z, -y). The
    result is cleaned and normalised (``normalise_mesh``).

    Raises:
        PointkitError: the file cannot be read or has no usable triangles, or ``up`` is unknown.
    """
    if up not in UP_AXES:
        raise PointkitError(f"--up {up!r}: use one of {', '.join(UP_AXES)}")
    path = Path(path)
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for malformed files
        raise PointkitError(f"{path}: cannot read mesh ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, trimesh.Trimesh):
        raise PointkitError(f"{path}: no triangle geometry found (got {type(loaded).__name__})")
    if up == "z":
        loaded.apply_transform([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]])
    return normalise_mesh(loaded, name=str(path))


def normalise_mesh(mesh: trimesh.Trimesh, name: str = "mesh") -> trimesh.Trimesh:
    """A cleaned copy of ``mesh``, centred on its bounding-box centre and scaled so its farthest
    vertex lies on the unit sphere.

    Cleaning drops faces with non-finite or repeated vertices and zero area, and unused vertices;
    open meshes and many components are kept as they are (rendering does not need watertightness).

    Raises:
        PointkitError: nothing with area is left (empty, collinear or non-finite mesh).
    """
    vertices = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64).reshape(-1, 3)
    if len(faces):
        if faces.min() < 0 or faces.max() >= len(vertices):
            raise PointkitError(f"{name}: faces refer to vertices that do not exist; check the file")
        finite = np.isfinite(vertices).all(1)
        distinct = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
        with np.errstate(invalid="ignore", over="ignore"):
            tri = vertices[faces]
            area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
            faces = faces[finite[faces].all(1) & distinct & (area2 > 0)]
    if not len(faces):
        raise PointkitError(f"{name}: degenerate mesh (no triangle with area); check the file")
    used = np.unique(faces)
    remap = np.zeros(len(vertices), np.int64)
    remap[used] = np.arange(len(used))
    vertices, faces = vertices[used], remap[faces]
    lo, hi = vertices.min(0), vertices.max(0)
    vertices = vertices - (lo + hi) / 2
    radius = np.linalg.norm(vertices, axis=1).max()
    # Relative test: a mesh whose faces have area but whose extent is at round-off level.
    if not radius > 1e-12 * max(1.0, np.abs(lo).max(), np.abs(hi).max()):
        raise PointkitError(f"{name}: degenerate mesh (zero extent); check the file")
    return trimesh.Trimesh(vertices / radius, faces, process=False)
