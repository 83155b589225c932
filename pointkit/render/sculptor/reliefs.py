"""The ``relief`` family: a height field of rounded bumps on a thin slab whose face looks toward +Z."""

from __future__ import annotations

import numpy as np
import trimesh

from pointkit.render.sculptor.sdf import noise, march


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
