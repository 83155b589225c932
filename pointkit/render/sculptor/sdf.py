"""Signed-distance building blocks of the sculptor's families (numpy, negative inside).

Primitives, smooth booleans (polynomial smooth-min), surface noise and chisel marks, and
``march``, which meshes a field's zero set with marching cubes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import trimesh

Field = Callable[[tuple], np.ndarray]

GRID = 72
"""Samples along the longest side of a family's bounding box."""


# --------------------------------------------------------------------------- primitives
def length(*c):
    return np.sqrt(sum(ci * ci for ci in c))


def sphere(p, c, r):
    return length(p[0] - c[0], p[1] - c[1], p[2] - c[2]) - r


def in_frame(p, c, rot):
    """Coordinates of points ``p`` in a frame at ``c`` whose axes are the columns of ``rot``."""
    x, y, z = p[0] - c[0], p[1] - c[1], p[2] - c[2]
    return tuple(x * rot[0, i] + y * rot[1, i] + z * rot[2, i] for i in range(3))


def ellipsoid(p, c, r, rot=None):
    q = in_frame(p, c, rot) if rot is not None else (p[0] - c[0], p[1] - c[1], p[2] - c[2])
    k0 = length(q[0] / r[0], q[1] / r[1], q[2] / r[2])
    k1 = length(q[0] / r[0] ** 2, q[1] / r[1] ** 2, q[2] / r[2] ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def capsule(p, a, b, ra, rb=None):
    """A capsule from ``a`` to ``b`` whose radius goes from ``ra`` to ``rb`` (a round cone)."""
    rb = ra if rb is None else rb
    a, b = np.asarray(a, float), np.asarray(b, float)
    ba = b - a
    pa = (p[0] - a[0], p[1] - a[1], p[2] - a[2])
    h = np.clip((pa[0] * ba[0] + pa[1] * ba[1] + pa[2] * ba[2]) / max(ba @ ba, 1e-9), 0.0, 1.0)
    return length(pa[0] - ba[0] * h, pa[1] - ba[1] * h, pa[2] - ba[2] * h) - (ra + (rb - ra) * h)


def box(p, c, half, rounding=0.0):
    q = [np.abs(p[i] - c[i]) - (half[i] - rounding) for i in range(3)]
    outside = length(*(np.maximum(qi, 0) for qi in q))
    return outside + np.minimum(np.maximum(np.maximum(q[0], q[1]), q[2]), 0) - rounding


def cylinder(p, c, r, half_h):
    """A vertical (Y-axis) cylinder."""
    dr = length(p[0] - c[0], p[2] - c[2]) - r
    dy = np.abs(p[1] - c[1]) - half_h
    return length(np.maximum(dr, 0), np.maximum(dy, 0)) + np.minimum(np.maximum(dr, dy), 0)


def torus(p, c, big, small, axis=1):
    q = (p[0] - c[0], p[1] - c[1], p[2] - c[2])
    a = [i for i in range(3) if i != axis]
    return length(length(q[a[0]], q[a[1]]) - big, q[axis]) - small


def smin(a, b, k):
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a, b, k):
    return -smin(-a, -b, k)


def ssub(a, b, k):
    """``a`` minus ``b``, smoothly."""
    return smax(a, -b, k)


def union(ds, k):
    out = ds[0]
    for d in ds[1:]:
        out = smin(out, d, k)
    return out


def noise(p, rng, amp, freq, n=4):
    """Low-amplitude band-limited surface noise (a sum of random plane waves)."""
    out = 0.0
    for _ in range(n):
        k = rng.normal(0, 1, 3)
        k = k / np.linalg.norm(k) * freq * rng.uniform(0.6, 1.4)
        out = out + np.sin(p[0] * k[0] + p[1] * k[1] + p[2] * k[2] + rng.uniform(0, 2 * np.pi))
    return amp * out / np.sqrt(n)


def chisel(p, rng, amp, freq):
    """Ridged, faceted marks like claw-chisel strokes: |sin| of a few random directions."""
    out = 0.0
    for _ in range(2):
        k = rng.normal(0, 1, 3)
        k = k / np.linalg.norm(k) * freq
        out = out + np.abs(np.sin(p[0] * k[0] + p[1] * k[1] + p[2] * k[2]))
    return amp * out


def rot_matrix(axis, angle):
    return trimesh.transformations.rotation_matrix(angle, axis)[:3, :3]


# --------------------------------------------------------------------------- meshing
def march(field: Field, lo, hi, n: int = GRID, min_n: int = 20, keep: float = 0.15) -> trimesh.Trimesh:
    """Mesh the zero set of ``field`` (negative inside) over the box [lo, hi].

    Voxels are cubic where possible (``n`` samples along the longest side), with at least
    ``min_n`` samples along every side. Components with fewer than ``keep`` times the faces of
    the largest one are dropped.
    """
    from skimage.measure import marching_cubes

    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    ext = hi - lo
    counts = [max(min_n, int(round(n * e / ext.max()))) for e in ext]
    axes = [np.linspace(lo[i], hi[i], counts[i], dtype=np.float32) for i in range(3)]
    p = np.meshgrid(*axes, indexing="ij", sparse=True)
    p = tuple(np.broadcast_to(a, counts) for a in p)
    d = np.asarray(field(p), np.float32)
    spacing = tuple(float(a[1] - a[0]) for a in axes)
    # Pad with "outside" so every surface is closed at the box's border.
    verts, faces, _, _ = marching_cubes(np.pad(-d, 1, constant_values=-1.0), level=0.0, spacing=spacing)
    verts = verts - np.array(spacing) + lo
    mesh = trimesh.Trimesh(verts, faces[:, ::-1], process=False)
    parts = mesh.split(only_watertight=False)
    if len(parts) > 1:
        biggest = max(len(m.faces) for m in parts)
        mesh = trimesh.util.concatenate([m for m in parts if len(m.faces) >= keep * biggest])
    return mesh


def bounds(points, radii, pad=0.06):
    points = np.asarray(points, float).reshape(-1, 3)
    radii = np.broadcast_to(np.asarray(radii, float), (len(points),))[:, None]
    return (points - radii).min(0) - pad, (points + radii).max(0) + pad
