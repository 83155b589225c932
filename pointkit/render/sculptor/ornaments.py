"""The ``ornament`` family: architecture as revolved profiles with mouldings."""

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
