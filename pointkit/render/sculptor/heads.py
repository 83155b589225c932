"""The ``head`` and ``bust`` families: one sculpted head field, on a neck stub or with shoulders."""

from __future__ import annotations

import numpy as np
import trimesh

from pointkit.render.sculptor.sdf import (
    sphere,
    in_frame,
    ellipsoid,
    capsule,
    box,
    cylinder,
    torus,
    smin,
    smax,
    ssub,
    noise,
    rot_matrix,
    march,
)


def _head_field(rng: np.random.Generator, s: float = 1.0):
    """A head field (face toward +Z, chin near y = -0.45 s) as a function of points ``p``."""
    cw, ch, cd = rng.uniform(0.32, 0.38), rng.uniform(0.36, 0.42), rng.uniform(0.38, 0.45)
    fw = rng.uniform(0.24, 0.3)
    jaw = rng.uniform(0.14, 0.2)
    nose_len = rng.uniform(0.12, 0.2)
    eye_y, eye_x = rng.uniform(-0.02, 0.04), rng.uniform(0.1, 0.13)
    hair = rng.choice(["none", "cap", "long", "hat", "headdress", "curls"], p=[0.2, 0.25, 0.15, 0.15, 0.1, 0.15])
    tilt = rot_matrix([1, 0, 0], rng.uniform(-0.15, 0.2)) @ rot_matrix([0, 1, 0], rng.uniform(-0.35, 0.35))
    nrng = np.random.default_rng(rng.integers(2**32))
    noise_amp = rng.uniform(0.0, 0.008)

    def field(p):
        p = in_frame(p, np.zeros(3), tilt.T)  # p in head frame
        p = (p[0] / s, p[1] / s, p[2] / s)
        d = ellipsoid(p, (0, 0.14, -0.04), (cw, ch, cd))
        d = smin(d, ellipsoid(p, (0, -0.1, 0.1), (fw, 0.36, 0.28)), 0.08)
        d = smin(d, ellipsoid(p, (0, -0.36, 0.16), (jaw, 0.12, 0.14)), 0.08)  # jaw and chin
        d = smin(d, sphere(p, (0, -0.42, 0.26), 0.07), 0.05)
        for sx in (-1, 1):  # cheekbones
            d = smin(d, ellipsoid(p, (sx * 0.17, -0.07, 0.23), (0.08, 0.06, 0.07)), 0.05)
        d = smin(d, capsule(p, (-0.19, eye_y + 0.09, 0.29), (0.19, eye_y + 0.09, 0.29), 0.05), 0.06)
        for sx in (-1, 1):  # eye sockets, then the eyeballs
            d = ssub(d, ellipsoid(p, (sx * eye_x, eye_y, 0.35), (0.075, 0.05, 0.07)), 0.03)
            d = np.minimum(d, sphere(p, (sx * eye_x, eye_y, 0.27), 0.05))
        d = smin(d, capsule(p, (0, eye_y + 0.02, 0.33), (0, eye_y - nose_len, 0.41), 0.03, 0.045), 0.03)
        for sx in (-1, 1):  # nostril wings
            d = smin(d, sphere(p, (sx * 0.035, eye_y - nose_len + 0.01, 0.37), 0.03), 0.02)
        my = eye_y - nose_len - 0.09
        d = smin(d, ellipsoid(p, (0, my + 0.025, 0.35), (0.08, 0.025, 0.04)), 0.02)  # lips
        d = smin(d, ellipsoid(p, (0, my - 0.03, 0.34), (0.07, 0.028, 0.04)), 0.02)
        d = ssub(d, ellipsoid(p, (0, my, 0.39), (0.07, 0.006, 0.03)), 0.006)  # mouth line
        for sx in (-1, 1):  # ears, with a hollow
            ear = ellipsoid(p, (sx * (cw - 0.01), -0.02, 0.0), (0.04, 0.11, 0.07))
            ear = ssub(ear, ellipsoid(p, (sx * (cw + 0.03), -0.02, 0.01), (0.02, 0.07, 0.04)), 0.01)
            d = smin(d, ear, 0.03)
        if hair in ("cap", "long", "curls"):
            h = ellipsoid(p, (0, 0.18, -0.07), (cw + 0.04, ch + 0.03, cd + 0.04))
            h = smax(h, -(p[2] - 0.24 + 0.5 * (p[1] - 0.3)), 0.04)  # hairline slopes back
            h = smax(h, -(p[1] + (0.55 if hair == "long" else 0.02)), 0.04)
            if hair == "long":
                h = smin(h, ellipsoid(p, (0, -0.25, -0.18), (cw + 0.03, 0.45, 0.22)), 0.1)
            if hair == "curls":
                h = h + 0.03 * np.sin(p[0] * 40) * np.sin(p[1] * 40) * np.sin(p[2] * 40)
            else:
                h = h + 0.012 * np.abs(np.sin(28 * np.arctan2(p[0], p[2] + 0.2)))  # strands
            d = smin(d, h, 0.03)
        elif hair == "hat":
            d = smin(d, cylinder(p, (0, 0.42, -0.05), cw + 0.02, 0.15), 0.03)
            d = np.minimum(d, cylinder(p, (0, 0.3, -0.05), cw + 0.18, 0.015))
        elif hair == "headdress":
            hd = capsule(p, (0, 0.3, -0.1), (0, 0.75, -0.2), cw + 0.02, cw * 0.75)
            hd = smin(hd, ellipsoid(p, (0, 0.0, -0.18), (cw + 0.08, 0.4, 0.26)), 0.06)
            hd = smax(hd, -(p[2] - 0.18 + 0.3 * p[1]), 0.03)
            hd = hd - 0.01 * np.abs(np.sin(p[1] * 45))
            d = smin(d, hd, 0.03)
        if noise_amp:
            d = d + noise(p, nrng, noise_amp, 25.0)
        return d * s

    return field


def head(rng: np.random.Generator) -> trimesh.Trimesh:
    """A sculpted head on a short neck stub; the face looks toward +Z."""
    field = _head_field(rng)
    cut = rng.uniform(-0.75, -0.6)

    def f(p):
        d = smin(field(p), capsule(p, (0, -0.3, -0.02), (0, cut - 0.1, -0.04), 0.15, 0.16), 0.06)
        return smax(d, cut - p[1], 0.01)

    return march(f, (-0.6, cut - 0.05, -0.65), (0.6, 1.0, 0.6))


def bust(rng: np.random.Generator) -> trimesh.Trimesh:
    """A head, neck, shoulders and chest cut flat below; sometimes on a plinth."""
    field = _head_field(rng, s=rng.uniform(0.8, 0.95))
    sw, depth = rng.uniform(0.55, 0.85), rng.uniform(0.24, 0.32)
    bottom = -rng.uniform(1.05, 1.35)
    plinth = rng.choice(["none", "box", "round"], p=[0.4, 0.3, 0.3])
    ph = rng.uniform(0.15, 0.35)
    draped = rng.uniform() < 0.4
    nrng = np.random.default_rng(rng.integers(2**32))

    def f(p):
        d = smin(field(p), capsule(p, (0, -0.25, -0.02), (0, -0.8, -0.02), 0.13, 0.16), 0.06)
        body = ellipsoid(p, (0, -0.88, -0.04), (sw, 0.2, depth))
        for sx in (-1, 1):
            body = smin(body, sphere(p, (sx * sw * 0.85, -0.88, -0.04), 0.16), 0.1)
        body = smin(body, ellipsoid(p, (0, -1.05, 0.02), (sw * 0.75, 0.35, depth + 0.02)), 0.1)
        for sx in (-1, 1):  # pectoral masses
            body = smin(body, ellipsoid(p, (sx * 0.18, -1.0, 0.14), (0.15, 0.1, 0.12)), 0.06)
        if draped:
            fold = capsule(p, (-sw, -0.75, 0.08), (sw * 0.4, -1.25, 0.2), 0.07)
            body = smin(body, fold + 0.02 * np.sin(p[0] * 30), 0.05)
        d = smin(d, body, 0.08)
        # carved flat below, with a slight waist so the bust stands
        d = smax(d, bottom - p[1], 0.02)
        d = d + noise(p, nrng, 0.004, 20.0)
        if plinth == "box":
            d = np.minimum(d, box(p, (0, bottom - ph / 2, -0.03), (sw * 0.55, ph / 2 + 0.01, 0.3), 0.02))
        elif plinth == "round":
            d = np.minimum(d, cylinder(p, (0, bottom - ph / 2, -0.03), sw * 0.5, ph / 2 + 0.01))
            d = smin(d, torus(p, (0, bottom - ph, -0.03), sw * 0.5, 0.04), 0.02)
        return d

    lo_y = bottom - (ph + 0.06 if plinth != "none" else 0.05)
    return march(f, (-sw - 0.25, lo_y, -0.7), (sw + 0.25, 0.9, 0.65))
