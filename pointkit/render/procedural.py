"""Procedural sculptures: varied, sculpture-like meshes, each reproducible from (seed, index).

Ten families. Six follow a sculptor's shape grammar (``pointkit.render.sculptor``): ``head``,
``bust``, ``figure``, ``animal``, ``relief`` and ``ornament``; they make up 85 % of the draws
(``WEIGHTS``). The four older abstract families below share the remaining 15 %:

- ``blob``: an implicit surface (sum of Gaussian blobs with low-frequency bumps, minus torus
  tubes that punch holes) meshed by marching cubes (scikit-image). Blob unions make saddles.
- ``vase``: a revolved profile (trimesh ``revolve``) with a wall and an opening, optionally
  fluted (radius modulated with the angle) and leaning.
- ``twist``: a star-section or box column, tessellated finely, then tapered, twisted about its
  axis and bent along an arc.
- ``union``: 3-7 overlapping primitives (spheres, boxes, cylinders, capsules, tori) at random
  poses, some stretched. Rendering treats overlapping parts as their union.

All meshes are returned normalised (centred, in the unit sphere), with +Y up.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import trimesh

from pointkit.render.mesh import normalise_mesh

from pointkit.render import sculptor

KINDS = ("head", "bust", "figure", "animal", "relief", "ornament", "blob", "vase", "twist", "union")
WEIGHTS = {
    "head": 0.12,
    "bust": 0.14,
    "figure": 0.2,
    "animal": 0.16,
    "relief": 0.1,
    "ornament": 0.13,
    "blob": 0.0375,
    "vase": 0.0375,
    "twist": 0.0375,
    "union": 0.0375,
}
"""Probability of each family when ``sculpture`` draws it; the abstract four together: 15 %."""


def sculpture_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of sculpture ``index`` under ``seed`` (independent streams per index)."""
    return np.random.default_rng([int(seed), int(index), 0x5C])


def sculpture(seed: int, index: int, kind: str | None = None, families: Sequence[str] | None = None) -> trimesh.Trimesh:
    """Sculpture ``index`` of the family drawn by ``seed``; same (seed, index), same mesh.

    Args:
        seed: collection seed.
        index: sculpture number (>= 0).
        kind: force a family (one of ``KINDS``); None draws it from (seed, index) with ``WEIGHTS``.
        families: draw only among these families (their ``WEIGHTS`` renormalised), e.g. the four
            abstract ones of pointkit's first datasets.

    Returns:
        A normalised trimesh.
    """
    rng = sculpture_rng(seed, index)
    drawn = _draw_kind(rng, families)  # always drawn, so forcing a kind keeps the same stream after it
    kind = kind or drawn
    if kind not in KINDS:
        raise ValueError(f"unknown sculpture kind {kind!r}; choose one of {KINDS}")
    makers = {"blob": _blob, "vase": _vase, "twist": _twist, "union": _union, **sculptor.FAMILIES}
    mesh = makers[kind](rng)
    return normalise_mesh(mesh, name=f"sculpture {seed}/{index} ({kind})")


def check_families(families: Sequence[str] | None) -> tuple[str, ...] | None:
    """``families`` as a tuple of known family names (None: all); ValueError names a bad one."""
    if families is None:
        return None
    bad = [f for f in families if f not in KINDS]
    if bad or not families:
        raise ValueError(
            f"unknown sculpture family {bad[0] if bad else '(none given)'!r}; choose from {', '.join(KINDS)}"
        )
    return tuple(families)


def _draw_kind(rng: np.random.Generator, families: Sequence[str] | None = None) -> str:
    kinds = check_families(families) or KINDS
    cumulative = np.cumsum([WEIGHTS[k] for k in kinds])
    u = float(rng.uniform()) * cumulative[-1]
    return kinds[min(int(np.searchsorted(cumulative, u, side="right")), len(kinds) - 1)]


def sculpture_kind(seed: int, index: int, families: Sequence[str] | None = None) -> str:
    """The family that ``sculpture(seed, index, families=families)`` draws, without building the mesh."""
    return _draw_kind(sculpture_rng(seed, index), families)


def sculpture_id(index: int) -> str:
    """Object id of a procedural sculpture in a dataset."""
    return f"sculpture-{index:06d}"


def _random_rotation(rng: np.random.Generator, tilt: float = np.pi) -> np.ndarray:
    """4x4 rotation: random yaw about +Y, then a tilt of at most ``tilt`` radians about a random
    horizontal axis."""
    yaw = trimesh.transformations.rotation_matrix(rng.uniform(0, 2 * np.pi), [0, 1, 0])
    axis = np.array([np.cos(a := rng.uniform(0, 2 * np.pi)), 0.0, np.sin(a)])
    return trimesh.transformations.rotation_matrix(rng.uniform(0, tilt), axis) @ yaw


def _blob(rng: np.random.Generator, n: int = 56) -> trimesh.Trimesh:
    from skimage.measure import marching_cubes

    grid = np.linspace(-1.3, 1.3, n)
    x = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1)
    field = np.zeros(x.shape[:3])
    k = int(rng.integers(3, 9))
    sigma = rng.uniform(0.18, 0.38, k)
    centres = [np.zeros(3)]
    for i in range(1, k):  # a random tree of blobs, each overlapping an earlier one
        step = rng.normal(0, 1, 3) * [0.8, 1.2, 0.8]
        centres.append(centres[int(rng.integers(i))] + step / np.linalg.norm(step) * 1.8 * sigma[i])
    for c, s, w in zip(centres, sigma, rng.uniform(0.7, 1.3, k)):
        field += w * np.exp(-((x - c) ** 2).sum(-1) / (2 * s * s))
    freq = rng.normal(0, 3.0, (3, 3))
    field *= 1 + 0.15 * np.sin(x @ freq.T + rng.uniform(0, 2 * np.pi, 3)).mean(-1)
    for _ in range(int(rng.integers(0, 3))):  # torus tubes carve holes through the blob
        rot = _random_rotation(rng)[:3, :3]
        p = (x - rng.normal(0, 0.2, 3)) @ rot
        major, minor = rng.uniform(0.25, 0.55), rng.uniform(0.08, 0.16)
        tube = np.hypot(np.hypot(p[..., 0], p[..., 2]) - major, p[..., 1])
        field -= 2.0 * np.exp(-((tube / minor) ** 2))
    level = 0.45
    if not (field.max() > level > field.min()):
        level = 0.5 * (field.max() + field.min())
    # The field is padded with zeros so every surface is closed at the grid's border.
    verts, faces, _, _ = marching_cubes(np.pad(field, 1), level=level)
    verts = (verts - 1) * (grid[1] - grid[0]) + grid[0]
    parts = trimesh.Trimesh(verts, faces[:, ::-1], process=False).split(only_watertight=False)
    return max(parts, key=lambda m: len(m.faces))  # holes can cut off crumbs: keep the main body


def _vase(rng: np.random.Generator) -> trimesh.Trimesh:
    t = np.linspace(0, 1, 48)
    radius = 0.35 + 0.12 * rng.uniform(-1, 1)
    for amp, fr, ph in zip(rng.uniform(0, 0.18, 3), rng.uniform(0.5, 3.0, 3), rng.uniform(0, 2 * np.pi, 3)):
        radius = radius + amp * np.sin(2 * np.pi * fr * t + ph)
    radius = np.clip(radius, 0.08, None)
    height = rng.uniform(1.0, 2.2)
    wall = rng.uniform(0.03, 0.07)
    depth = int(len(t) * rng.uniform(0.4, 0.9))
    # A closed cross-section: bottom centre, outer wall up to the rim, inner wall down, inner floor.
    outer = np.stack([radius, t * height], 1)
    inner = np.stack([np.clip(radius - wall, 0.02, None), t * height], 1)[::-1][:depth]
    profile = np.vstack([[0.0, 0.0], outer, inner, [0.0, inner[-1, 1]]])
    mesh = trimesh.creation.revolve(profile[::-1], sections=96)
    v = mesh.vertices.copy()
    theta = np.arctan2(v[:, 1], v[:, 0])
    flutes, depth_f = int(rng.integers(0, 13)), rng.uniform(0, 0.08)
    v[:, :2] *= (1 + depth_f * np.cos(flutes * theta))[:, None] if flutes >= 3 else 1
    v[:, 0] += rng.uniform(-0.3, 0.3) * (v[:, 2] / height) ** 2  # lean
    mesh = trimesh.Trimesh(v[:, [0, 2, 1]] * [1, 1, -1], mesh.faces, process=False)  # Z up -> Y up
    return mesh


def _deform(vertices: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Taper, twist about +Y and bend along an arc; (N, 3) -> (N, 3), Y in [-1, 1]."""
    v = vertices.copy()
    y = v[:, 1]
    v[:, [0, 2]] *= 1 + rng.uniform(-0.5, 0.3) * (y[:, None] + 1) / 2
    angle = rng.uniform(-1.5, 1.5) * np.pi * (y + 1) / 2
    c, s = np.cos(angle), np.sin(angle)
    v[:, 0], v[:, 2] = c * v[:, 0] - s * v[:, 2], s * v[:, 0] + c * v[:, 2]
    bend = rng.uniform(-0.9, 0.9)  # curvature of the axis: it follows a circle of radius 1 / bend
    if abs(bend) > 1e-3:
        r = 1 / bend
        phi = y * bend
        x = v[:, 0]
        v[:, 0] = r - (r - x) * np.cos(phi)
        v[:, 1] = (r - x) * np.sin(phi)
    return v


def _twist(rng: np.random.Generator) -> trimesh.Trimesh:
    height = rng.uniform(1.4, 2.2)
    if rng.uniform() < 0.5:
        base = trimesh.creation.box([rng.uniform(0.3, 0.7), height, rng.uniform(0.3, 0.7)])
    else:
        # A star section: a cylinder whose radius is modulated with the angle.
        base = trimesh.creation.cylinder(
            radius=1.0,
            height=height,
            sections=120,
            transform=trimesh.transformations.rotation_matrix(np.pi / 2, [1, 0, 0]),
        )
        theta = np.arctan2(base.vertices[:, 2], base.vertices[:, 0])
        lobes, r0 = int(rng.integers(3, 8)), rng.uniform(0.25, 0.4)
        star = r0 * (1 + rng.uniform(0.15, 0.45) * np.cos(lobes * theta))
        v = base.vertices.copy()
        v[:, [0, 2]] *= star[:, None]
        base = trimesh.Trimesh(v, base.faces, process=False)
    verts, faces = trimesh.remesh.subdivide_to_size(base.vertices, base.faces, max_edge=height / 40, max_iter=12)
    verts = verts / np.array([1, height / 2, 1])
    return trimesh.Trimesh(_deform(verts, rng) * [1, height / 2, 1], faces, process=False)


def _union(rng: np.random.Generator) -> trimesh.Trimesh:
    parts = []
    for _ in range(int(rng.integers(3, 8))):
        kind = rng.integers(5)
        size = rng.uniform(0.2, 0.5)
        if kind == 0:
            part = trimesh.creation.icosphere(subdivisions=3, radius=size)
        elif kind == 1:
            part = trimesh.creation.box(rng.uniform(0.2, 0.8, 3))
        elif kind == 2:
            part = trimesh.creation.cylinder(radius=size * 0.6, height=rng.uniform(0.4, 1.2), sections=48)
        elif kind == 3:
            part = trimesh.creation.capsule(height=rng.uniform(0.3, 1.0), radius=size * 0.5, count=[24, 24])
        else:
            part = trimesh.creation.torus(
                major_radius=size, minor_radius=size * rng.uniform(0.2, 0.45), major_sections=48, minor_sections=24
            )
        part.apply_scale(rng.uniform(0.7, 1.3, 3))
        transform = _random_rotation(rng)
        transform[:3, 3] = rng.normal(0, 0.3, 3) * [0.8, 1.2, 0.8]
        part.apply_transform(transform)
        parts.append(part)
    return trimesh.util.concatenate(parts)
