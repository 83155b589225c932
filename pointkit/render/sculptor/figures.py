"""The ``figure`` family: a posed stick skeleton fleshed out with tapered capsules, sometimes draped."""

from __future__ import annotations

import numpy as np
import trimesh

from pointkit.render.sculptor.sdf import (
    length,
    sphere,
    ellipsoid,
    capsule,
    box,
    cylinder,
    smin,
    smax,
    union,
    noise,
    rot_matrix,
    march,
    bounds,
)


def _skeleton(rng: np.random.Generator, pose: str) -> dict[str, np.ndarray]:
    """Joint positions of a figure about 2 units tall (standing), front toward +Z."""
    leg, shin = rng.uniform(0.42, 0.5), rng.uniform(0.4, 0.48)
    torso = rng.uniform(0.5, 0.6)
    arm, fore = rng.uniform(0.28, 0.34), rng.uniform(0.26, 0.32)
    hip_w, sh_w = rng.uniform(0.1, 0.14), rng.uniform(0.17, 0.22)
    j: dict[str, np.ndarray] = {}
    lean = rng.uniform(-0.15, 0.15)
    if pose == "seated":
        j["pelvis"] = np.array([0.0, 0.0, 0.0])
    else:
        j["pelvis"] = np.array([0.0, leg + shin, 0.0])
    sway = rng.uniform(-0.12, 0.12)
    j["chest"] = j["pelvis"] + torso * np.array([np.sin(sway), np.cos(sway) * np.cos(lean), np.sin(lean)])
    j["neck"] = j["chest"] + np.array([0.0, 0.12, 0.0])
    j["head"] = j["neck"] + np.array([rng.uniform(-0.04, 0.04), 0.13, rng.uniform(-0.02, 0.05)])
    for side, sx in (("l", -1), ("r", 1)):
        j["hip" + side] = j["pelvis"] + [sx * hip_w, 0, 0]
        if pose == "seated":
            spread = rng.uniform(0.0, 0.15)
            j["knee" + side] = j["hip" + side] + leg * np.array([sx * spread, rng.uniform(-0.1, 0.1), 1.0])
            j["foot" + side] = j["knee" + side] + shin * np.array([0, -1.0, rng.uniform(-0.3, 0.2)])
        else:
            a = rng.uniform(-0.35, 0.35)  # hip flexion (forward / back)
            b = sx * rng.uniform(0.0, 0.15)  # abduction
            kneeb = rng.uniform(0.0, 0.5)
            j["knee" + side] = j["hip" + side] + leg * np.array([np.sin(b), -np.cos(a) * np.cos(b), np.sin(a)])
            j["foot" + side] = j["knee" + side] + shin * np.array([np.sin(b), -np.cos(a - kneeb), np.sin(a - kneeb)])
        j["shoulder" + side] = j["chest"] + [sx * sh_w, 0.02, 0]
        up = rng.uniform(-0.2, 2.6)  # arm raised sideways (radians from hanging)
        fwd = rng.uniform(-0.4, 1.2)
        elbow_dir = np.array([sx * np.sin(up), -np.cos(up), 0.0])
        elbow_dir = elbow_dir * np.cos(fwd * 0.6) + np.array([0, 0, np.sin(fwd * 0.6)])
        j["elbow" + side] = j["shoulder" + side] + arm * elbow_dir / np.linalg.norm(elbow_dir)
        bend = rng.uniform(0.0, 1.8)
        fdir = elbow_dir * np.cos(bend) + np.array([0, np.sin(bend) * 0.7, np.sin(bend) * 0.7])
        j["hand" + side] = j["elbow" + side] + fore * fdir / np.linalg.norm(fdir)
    return j


_BONES = [("pelvis", "chest", 0.1, 0.11), ("chest", "neck", 0.07, 0.05), ("neck", "head", 0.05, 0.05)]
for _s in "lr":
    _BONES += [
        ("hip" + _s, "knee" + _s, 0.075, 0.05),
        ("knee" + _s, "foot" + _s, 0.05, 0.035),
        ("shoulder" + _s, "elbow" + _s, 0.045, 0.035),
        ("elbow" + _s, "hand" + _s, 0.035, 0.028),
    ]


def _drapery(p, waist, top: float, bot: float, radius: float, flare: float, n_folds: int, fold_amp: float):
    """SDF (approximate) of a flared skirt / cloak around the point ``waist`` from height ``top``
    down to ``bot``: ``radius`` at the top, ``flare`` wider at the bottom, with sinusoidal folds."""
    t = np.clip((top - p[1]) / max(top - bot, 1e-3), 0, 1)
    theta = np.arctan2(p[0] - waist[0], p[2] - waist[2])
    r = radius + flare * t * (1 + fold_amp / 0.05 * 0.1 * np.sin(n_folds * theta))
    r = r + fold_amp * t * np.sin(n_folds * theta + 3 * t)
    cone = (length(p[0] - waist[0], p[2] - waist[2]) - r) * 0.7
    return smax(cone, np.maximum(p[1] - top, bot - p[1]), 0.02)


def figure(rng: np.random.Generator) -> trimesh.Trimesh:
    """A posed human figure (standing, seated or reclining), sometimes draped, sometimes on a base."""
    pose = rng.choice(["standing", "seated", "reclining"], p=[0.5, 0.25, 0.25])
    j = _skeleton(rng, "seated" if pose == "seated" else "standing")
    bulk = rng.uniform(0.85, 1.3)
    drapery = pose != "reclining" and rng.uniform() < 0.45
    base = rng.choice(["none", "box", "round"], p=[0.3, 0.4, 0.3]) if pose == "standing" else "box"
    n_folds, fold_amp = int(rng.integers(6, 14)), rng.uniform(0.02, 0.05)
    flare = rng.uniform(0.25, 0.45)
    nrng = np.random.default_rng(rng.integers(2**32))
    if pose == "reclining":  # lie along X, propped on one elbow
        rot = rot_matrix([0, 0, 1], np.pi / 2 * rng.choice([-1, 1]) * rng.uniform(0.75, 0.95))
        rot = rot_matrix([0, 1, 0], rng.uniform(-0.4, 0.4)) @ rot
        j = {k: rot @ v for k, v in j.items()}
    floor = min(v[1] for v in j.values()) - 0.03
    if pose == "seated":
        floor = min(j["footl"][1], j["footr"][1]) - 0.03
    pts = np.array(list(j.values()))

    def f(p):
        ds = [capsule(p, j[a], j[b], ra * bulk, rb * bulk) for a, b, ra, rb in _BONES]
        d = union(ds, 0.05)
        c, pl = j["chest"], j["pelvis"]
        d = smin(d, ellipsoid(p, c - 0.06 * (c - pl) / np.linalg.norm(c - pl), (0.18 * bulk, 0.14, 0.11 * bulk)), 0.08)
        d = smin(d, ellipsoid(p, pl, (0.16 * bulk, 0.11, 0.11 * bulk)), 0.08)
        d = smin(d, sphere(p, j["head"], 0.1), 0.04)
        d = smin(d, sphere(p, j["head"] + [0, -0.03, 0.06], 0.06), 0.04)  # face / jaw mass
        for s in "lr":
            d = smin(d, ellipsoid(p, j["foot" + s] + [0, -0.01, 0.05], (0.04, 0.03, 0.08)), 0.03)
        if drapery:
            d = smin(d, _drapery(p, pl, pl[1] + 0.05, floor + 0.02, 0.16 * bulk, flare, n_folds, fold_amp), 0.05)
        if pose == "seated":
            d = np.minimum(d, box(p, (0, -0.22, -0.05), (0.3, 0.2 + 0.01, 0.25), 0.03))
            d = smin(d, box(p, (0, floor - 0.05, 0.1), (0.35, 0.05, 0.45), 0.02), 0.02)
        elif pose == "reclining":
            d = smin(d, box(p, (pts[:, 0].mean(), floor - 0.05, 0), (1.1, 0.07, 0.3), 0.03), 0.06)
        elif base == "box":
            d = smin(d, box(p, (0, floor - 0.06, 0), (0.3, 0.06, 0.3), 0.02), 0.03)
        elif base == "round":
            d = smin(d, cylinder(p, (0, floor - 0.06, 0), 0.3, 0.06), 0.03)
        return d + noise(p, nrng, 0.004, 25.0)

    lo, hi = bounds(pts, 0.2)
    if pose == "seated":
        lo = np.minimum(lo, [-0.4, floor - 0.12, -0.35])
        hi = np.maximum(hi, [0.4, 0.1, 0.6])
    elif pose == "reclining":
        lo = np.minimum(lo, [pts[:, 0].mean() - 1.2, floor - 0.15, -0.35])
        hi = np.maximum(hi, [pts[:, 0].mean() + 1.2, floor, 0.35])
    else:
        lo = np.minimum(lo, [-0.35 - flare * drapery, floor - 0.15, -0.35 - flare * drapery])
        hi = np.maximum(hi, [0.35 + flare * drapery, floor, 0.35 + flare * drapery])
    return march(f, lo, hi)
