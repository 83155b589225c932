"""A sculptor's shape grammar: procedural families that look like what sculptors make.

Each family is a function ``(rng: np.random.Generator) -> trimesh.Trimesh``. Shapes are built as
(approximate) signed-distance fields in numpy - negative inside - from ellipsoids, tapered
capsules, boxes, cylinders and tori, combined with smooth unions (polynomial smooth-min), smooth
subtractions (eye sockets, grooves, holes) and intersections, plus low-amplitude surface noise and
ridged "chisel" marks. The field is evaluated on a grid fitted to the shape's bounding box (about
72 samples along its longest side) and meshed with ``skimage.measure.marching_cubes``; only the
main connected component(s) are kept, so there are no floating crumbs.

Families (world frame: +Y up; faces, reliefs and fronts look toward +Z, i.e. toward the camera
at azimuth 0, which sits on +Z and looks along -Z, see ``pointkit.geometry.look_at_orbit``):

- ``head``: cranium and face masses, brow ridge, eye sockets with eyeballs, nose, lips, chin,
  cheekbones, ears; sometimes a hair mass (with strands), a cap or hat, or a tall headdress.
- ``bust``: a head plus neck, shoulders and chest cut flat below; sometimes a box or round plinth.
- ``figure``: a posed stick skeleton (standing with contrapposto, seated on a block, or reclining
  on a base) with tapered capsule limbs, ellipsoid torso masses and a head; sometimes drapery (a
  flared skirt / cloak volume with sinusoidal folds), sometimes a base.
- ``animal``: a quadruped (body, 4 two-segment legs, neck, head with snout and ears, tail), a bird
  (body, head, beak, folded or spread wings, tail fan, perch) or a fish (body, tail fin, dorsal
  and side fins, on a stand or free), with random proportions.
- ``relief``: a thin panel, medallion, coin or frieze in the XY plane facing +Z, with raised
  portraits, figures or ornament (rosettes, scrolls) made of rounded bumps, and a rim.
- ``ornament``: architecture - columns (base mouldings, fluted shaft with entasis, Doric or
  Ionic capital with volutes as tori), balusters, urns with handles, finials.

The raw meshes are not normalised; ``pointkit.render.procedural.sculpture`` normalises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import trimesh

from pointkit.render.sculptor.sdf import (
    length,
    ellipsoid,
    capsule,
    box,
    cylinder,
    torus,
    smin,
    ssub,
    noise,
    chisel,
    march,
)

from pointkit.render.sculptor.heads import head, bust
from pointkit.render.sculptor.figures import figure
from pointkit.render.sculptor.animals import animal


# --------------------------------------------------------------------------- relief
def _bump(d2, height, width):
    """A rounded plateau of ``height`` over the 2-D region ``d2 < 0``, with shoulder ``width``."""
    t = np.clip(-d2 / width, 0.0, 1.0)
    return height * np.sqrt(1 - (1 - t) ** 2)


def _disc2(x, y, c, r):
    return np.hypot(x - c[0], y - c[1]) - r


def _ell2(x, y, c, r, angle=0.0):
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = (x - c[0]) * ca + (y - c[1]) * sa, -(x - c[0]) * sa + (y - c[1]) * ca
    k0 = np.hypot(u / r[0], v / r[1])
    k1 = np.hypot(u / r[0] ** 2, v / r[1] ** 2)
    return k0 * (k0 - 1) / np.maximum(k1, 1e-6)


def _seg2(x, y, a, b, r):
    ba = np.subtract(b, a)
    h = np.clip(((x - a[0]) * ba[0] + (y - a[1]) * ba[1]) / max(ba @ ba, 1e-9), 0, 1)
    return np.hypot(x - a[0] - ba[0] * h, y - a[1] - ba[1] * h) - r


def _relief_portrait(x, y, s, face_dir, height):
    """A profile head and shoulders facing sideways (``face_dir`` +-1), ``s`` across."""
    fx = face_dir * x
    d2 = _ell2(fx, y, (0, 0.15 * s), (0.38 * s, 0.45 * s))
    d2 = np.minimum(d2, _ell2(fx, y, (0.3 * s, 0.02 * s), (0.18 * s, 0.28 * s), 0.3))  # face
    d2 = np.minimum(d2, _ell2(fx, y, (0.47 * s, 0.05 * s), (0.08 * s, 0.04 * s), -0.8))  # nose
    d2 = np.minimum(d2, _ell2(fx, y, (0.0, -0.45 * s), (0.18 * s, 0.3 * s)))  # neck
    d2 = np.maximum(d2, -0.6 * s - y)
    h = _bump(d2, height, 0.06 * s)
    h = h + _bump(_ell2(fx, y, (-0.05 * s, 0.05 * s), (0.07 * s, 0.1 * s)), height * 0.25, 0.03 * s)  # ear
    h = h + 0.01 * np.abs(np.sin(30 * np.arctan2(y - 0.15 * s, fx + 0.1 * s))) * (d2 < 0) * (y > 0.1 * s)
    return h - _bump(_disc2(fx, y, (0.3 * s, 0.13 * s), 0.03 * s), height * 0.3, 0.02 * s)  # eye


def _relief_figures(x, y, poses, hw, hh, rim_w, height):
    """A row of stick figures (one per row of ``poses``, (n, 6) in [-1, 1]) across the panel."""
    h, n_fig = 0.0, len(poses)
    for i, pp in enumerate(poses):
        cx = (-hw + rim_w * 2) + (i + 0.5) * (2 * hw - rim_w * 4) / n_fig
        sc = min(2 * hh - rim_w * 4, 1.6 * (2 * hw - rim_w * 4) / n_fig) / 2.0
        hip, sh = (cx, -0.1 * sc), (cx + 0.1 * sc * pp[0], 0.45 * sc)
        d2 = _seg2(x, y, hip, sh, 0.11 * sc)
        d2 = np.minimum(d2, _disc2(x, y, (sh[0], sh[1] + 0.28 * sc), 0.14 * sc))
        for sgn, k in ((-1, 1), (1, 3)):
            knee = (hip[0] + sgn * 0.2 * sc + 0.2 * sc * pp[k], hip[1] - 0.45 * sc)
            d2 = np.minimum(d2, _seg2(x, y, hip, knee, 0.07 * sc))
            d2 = np.minimum(d2, _seg2(x, y, knee, (knee[0] + 0.1 * sc * pp[k], -0.95 * sc), 0.055 * sc))
            elbow = (sh[0] + sgn * 0.3 * sc, sh[1] - 0.15 * sc + 0.25 * sc * pp[k + 1])
            d2 = np.minimum(d2, _seg2(x, y, sh, elbow, 0.05 * sc))
            d2 = np.minimum(
                d2, _seg2(x, y, elbow, (elbow[0] + sgn * 0.2 * sc, elbow[1] + 0.3 * sc * pp[k + 1]), 0.04 * sc)
            )
        h = np.maximum(h, _bump(d2, height, 0.05 * sc))
    return h


def _relief_rosette(x, y, inner, petals, petal_r, height, row: bool):
    """A rosette of ``petals`` petals in a ring (a repeating row of them when ``row``)."""
    xr = x
    if row:
        period = 2.2 * inner
        xr = np.mod(x + period / 2, period) - period / 2
    r, th = np.hypot(xr, y), np.arctan2(y, xr)
    petal = r - inner * petal_r * (0.55 + 0.45 * np.abs(np.cos(petals * th / 2)))
    h = _bump(petal, height, 0.05)
    h = h + _bump(r - inner * 0.12, height * 0.5, 0.03)
    return h + _bump(np.abs(r - inner * 0.8) - 0.025, height * 0.6, 0.02)


def _relief_scroll(x, y, inner, scroll_k, height):
    """A running wave of spirals along x."""
    ang = scroll_k * x
    wave = np.abs(y - 0.35 * inner * np.sin(ang)) - 0.04
    h = _bump(wave, height * 0.8, 0.03)
    cx = (np.round(ang / np.pi - 0.5) + 0.5) * np.pi / scroll_k
    cy = 0.35 * inner * np.sin(cx * scroll_k) * 0.4
    return np.maximum(h, _bump(np.abs(np.hypot(x - cx, y + cy * 0.0) - 0.12 * inner) - 0.025, height * 0.7, 0.02))


def relief(rng: np.random.Generator) -> trimesh.Trimesh:
    """A thin panel, medallion, coin or frieze in the XY plane; the carved face looks toward +Z.

    The camera at azimuth 0 sits on +Z and looks along -Z (``look_at_orbit``), so it sees the
    relief frontally; azimuth 90 sees its edge.
    """
    shape = rng.choice(["panel", "medallion", "coin", "frieze"], p=[0.3, 0.25, 0.2, 0.25])
    motif = rng.choice(["portrait", "figures", "rosette", "scroll"], p=[0.3, 0.3, 0.2, 0.2])
    if shape == "frieze":
        hw, hh = rng.uniform(0.9, 1.2), rng.uniform(0.25, 0.4)
    elif shape == "panel":
        hw, hh = rng.uniform(0.5, 0.8), rng.uniform(0.5, 0.8)
    else:
        hw = hh = rng.uniform(0.6, 0.8)
    if shape == "frieze" and motif == "portrait":
        motif = "figures"
    slab = rng.uniform(0.04, 0.08) if shape == "coin" else rng.uniform(0.06, 0.14)
    height = rng.uniform(0.05, 0.09)
    rim_w = rng.uniform(0.04, 0.08)
    round_ = shape in ("medallion", "coin")
    inner = min(hw, hh) - rim_w * 1.8
    nrng = np.random.default_rng(rng.integers(2**32))
    # motif parameters, drawn once
    n_fig = int(rng.integers(2, 6)) if shape == "frieze" else int(rng.integers(1, 3))
    fig_poses = rng.uniform(-1, 1, (n_fig, 6))
    petals, petal_r = int(rng.integers(5, 13)), rng.uniform(0.3, 0.5)
    scroll_k, face_dir = rng.uniform(3, 7), rng.choice([-1, 1])

    def height_field(x, y):
        outline = np.hypot(x, y) - hw if round_ else np.maximum(np.abs(x) - hw, np.abs(y) - hh)
        rim = _bump(np.abs(outline + rim_w) - rim_w * 0.6, height * 0.8, rim_w * 0.5)
        if motif == "portrait":
            h = _relief_portrait(x, y, inner, face_dir, height)
        elif motif == "figures":
            h = _relief_figures(x, y, fig_poses, hw, hh, rim_w, height)
        elif motif == "rosette":
            h = _relief_rosette(x, y, inner, petals, petal_r, height, row=shape == "frieze")
        else:
            h = _relief_scroll(x, y, inner, scroll_k, height)
        inside = outline + rim_w * 1.4 < 0
        return rim + h * inside + noise((x, y, 0 * x), nrng, 0.003, 20.0), outline

    def f(p):
        x, y, z = p[0][:, :, :1], p[1][:, :, :1], p[2]
        h, outline = height_field(x, y)
        d = np.maximum(np.maximum(z - h, -slab - z), outline)
        return d * 0.8

    pad = 0.05
    return march(f, (-hw - pad, -hh - pad, -slab - pad), (hw + pad, hh + pad, height * 1.8 + pad), n=88, min_n=28)


# --------------------------------------------------------------------------- ornament
def _revolve(p, radius: Callable[[np.ndarray], np.ndarray], y0, y1):
    """A solid of revolution about +Y with ``radius(y)`` for y in [y0, y1] (approximate SDF)."""
    r = length(p[0], p[2])
    yc = np.clip(p[1], y0, y1)
    d = (r - radius(yc)) * 0.8
    return np.maximum(d, np.maximum(y0 - p[1], p[1] - y1))


@dataclass(frozen=True)
class _Order:
    """The drawn parameters of one piece of architecture and its parts as SDFs of points ``p``."""

    flutes: int
    ionic: bool
    r0: float
    H: float
    square: bool
    swell: tuple[float, float]  # baluster: where the belly is (share of H) and its ripple frequency

    def fluted(self, p, d, depth):
        if not self.flutes:
            return d
        th = np.arctan2(p[2], p[0])
        return d + depth * np.maximum(np.cos(self.flutes * th), 0) ** 0.5

    def capital(self, p, y, r):
        d = _revolve(p, lambda t: r * (1 + 0.45 * ((t - y) / 0.12)), y, y + 0.12)  # echinus
        d = smin(d, torus(p, (0, y, 0), r * 1.02, 0.025), 0.02)
        d = np.minimum(d, box(p, (0, y + 0.16, 0), (r * 1.55, 0.04, r * 1.55), 0.01))  # abacus
        if self.ionic:
            for sx in (-1, 1):
                for rr, w in [(0.1, 0.035), (0.06, 0.025)]:
                    c = (sx * r * 1.35, y + 0.06, 0)
                    d = np.minimum(d, cylinder((p[0], p[2], p[1]), (c[0], 0, c[1]), rr * 0.5, r * 1.3))
                    d = np.minimum(d, torus(p, c, rr, w, axis=2))
        else:  # acanthus-like leaves: bumps around the bell
            th = np.arctan2(p[2], p[0])
            leaves = _revolve(p, lambda t: r * (1.05 + 0.3 * (t - y + 0.15) / 0.3), y - 0.15, y + 0.1)
            d = smin(d, leaves - 0.03 * np.maximum(np.cos(8 * th), 0), 0.02)
        return d

    def base(self, p, y, r):
        d = smin(torus(p, (0, y + 0.1, 0), r * 1.15, 0.05), torus(p, (0, y + 0.2, 0), r * 1.05, 0.035), 0.01)
        d = np.minimum(d, cylinder(p, (0, y + 0.15, 0), r * 1.05, 0.06))
        if self.square:
            return np.minimum(d, box(p, (0, y + 0.025, 0), (r * 1.45, 0.045, r * 1.45), 0.01))
        return np.minimum(d, cylinder(p, (0, y + 0.025, 0), r * 1.4, 0.045))

    def column(self, p):
        r0, y0, y1 = self.r0, 0.2, self.H - 0.25
        shaft = _revolve(p, lambda t: r0 * (1 - 0.18 * ((t - y0) / (y1 - y0)) ** 1.5), y0, y1)
        d = smin(self.fluted(p, shaft, 0.02), self.base(p, 0.0, r0), 0.02)
        return np.minimum(d, self.capital(p, y1, r0 * 0.85))

    def capital_block(self, p):
        r = self.r0 * 1.4
        d = self.fluted(p, cylinder(p, (0, 0.2, 0), r, 0.2), 0.03)
        d = np.minimum(d, torus(p, (0, 0.4, 0), r, 0.03))
        return np.minimum(d, self.capital(p, 0.42, r))

    def baluster(self, p):
        (a, b), r0, H = self.swell, self.r0, self.H
        d = _revolve(
            p,
            lambda t: r0 * (0.55 + 0.6 * np.exp(-(((t - a * H) / (0.18 * H)) ** 2)) + 0.1 * np.cos(b * t)),
            0.15,
            H - 0.15,
        )
        d = np.minimum(d, box(p, (0, 0.075, 0), (r0 * 1.2, 0.075, r0 * 1.2), 0.01))
        d = np.minimum(d, box(p, (0, H - 0.075, 0), (r0 * 1.2, 0.075, r0 * 1.2), 0.01))
        d = smin(d, torus(p, (0, 0.2, 0), r0 * 0.75, 0.04), 0.01)
        return smin(d, torus(p, (0, H - 0.2, 0), r0 * 0.75, 0.04), 0.01)

    def urn(self, p):
        rb = self.r0 * 2.0
        body = np.maximum(ellipsoid(p, (0, 0.75, 0), (rb, 0.45, rb)), p[1] - 1.05)
        body = self.fluted(p, body, 0.02) if self.flutes else body - 0.015 * np.abs(np.sin(30 * p[1]))
        neck = _revolve(p, lambda t: rb * (0.6 + 0.25 * ((t - 1.0) / 0.3) ** 2), 1.0, 1.3)
        d = smin(body, neck, 0.04)
        d = np.minimum(d, torus(p, (0, 1.3, 0), rb * 0.85, 0.04))
        d = ssub(d, cylinder(p, (0, 1.3, 0), rb * 0.72, 0.2), 0.02)  # the opening
        d = smin(d, _revolve(p, lambda t: rb * (0.25 + 0.5 * (0.35 - t) ** 2 / 0.12), 0.05, 0.35), 0.04)
        d = np.minimum(
            d,
            cylinder(p, (0, 0.04, 0), rb * 0.55, 0.04)
            if not self.square
            else box(p, (0, 0.04, 0), (rb * 0.6, 0.04, rb * 0.6), 0.01),
        )
        for sx in (-1, 1):  # handles
            d = smin(d, torus(p, (sx * rb * 0.95, 1.05, 0), 0.16, 0.03, axis=2), 0.02)
        return d

    def finial(self, p):
        """A stack of spheres, an acorn / pine cone and a spike on a base."""
        r0 = self.r0
        d = self.base(p, 0.0, r0 * 0.8)
        d = smin(d, _revolve(p, lambda t: r0 * (0.45 + 0.3 * np.sin(np.pi * (t - 0.25) / 0.3)), 0.25, 0.55), 0.03)
        cone_h = self.H * 0.5
        cone = ellipsoid(p, (0, 0.55 + cone_h * 0.45, 0), (r0 * 1.4, cone_h * 0.55, r0 * 1.4))
        th = np.arctan2(p[2], p[0])
        cone = cone - 0.02 * np.abs(np.sin(6 * th + 18 * p[1])) - 0.02 * np.abs(np.sin(6 * th - 18 * p[1]))
        d = smin(d, cone, 0.04)
        top = 0.55 + cone_h
        return smin(d, capsule(p, (0, top - 0.05, 0), (0, top + 0.25, 0), 0.06, 0.01), 0.03)


def ornament(rng: np.random.Generator) -> trimesh.Trimesh:
    """Architecture: a column, baluster, urn or finial (revolved profiles with mouldings)."""
    kind = str(rng.choice(["column", "baluster", "urn", "finial", "capital"], p=[0.3, 0.2, 0.2, 0.15, 0.15]))
    nrng = np.random.default_rng(rng.integers(2**32))
    chisel_amp = rng.uniform(0.0, 0.006)
    flutes = int(rng.integers(12, 25)) if rng.uniform() < 0.6 else 0
    ionic = bool(rng.uniform() < 0.5)
    r0, H = rng.uniform(0.16, 0.26), rng.uniform(1.4, 2.2)
    square = bool(rng.uniform() < 0.6)  # square plinth
    order = _Order(flutes, ionic, r0, H, square, (rng.uniform(0.3, 0.7), rng.uniform(5, 12)))
    part = {
        "column": order.column,
        "capital": order.capital_block,
        "baluster": order.baluster,
        "urn": order.urn,
        "finial": order.finial,
    }[kind]

    def f(p):
        d = part(p)
        if chisel_amp:
            d = d + chisel(p, nrng, chisel_amp, 30.0)
        return d + noise(p, nrng, 0.003, 20.0)

    w = {"column": r0 * 2.1, "capital": r0 * 2.6, "baluster": r0 * 1.8, "urn": r0 * 3.3, "finial": r0 * 1.8}[kind]
    top = {"column": H + 0.05, "capital": 0.75, "baluster": H + 0.02, "urn": 1.42, "finial": 0.55 + H * 0.5 + 0.32}[
        kind
    ]
    return march(f, (-w, -0.03, -w), (w, top, w))


FAMILIES: dict[str, Callable[[np.random.Generator], trimesh.Trimesh]] = {
    "head": head,
    "bust": bust,
    "figure": figure,
    "animal": animal,
    "relief": relief,
    "ornament": ornament,
}
"""The sculptor's families, by name."""
