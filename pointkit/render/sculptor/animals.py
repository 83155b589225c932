"""The ``animal`` family: a quadruped, bird or fish with random proportions (side toward +Z)."""

from __future__ import annotations

import numpy as np
import trimesh

from pointkit.render.sculptor.sdf import (
    sphere,
    ellipsoid,
    capsule,
    box,
    cylinder,
    smin,
    ssub,
    noise,
    rot_matrix,
    march,
    bounds,
)


def animal(rng: np.random.Generator) -> trimesh.Trimesh:
    """A quadruped, bird or fish from a skeletal template with random proportions (side to +Z)."""
    kind = rng.choice(["quadruped", "bird", "fish"], p=[0.5, 0.28, 0.22])
    return {"quadruped": _quadruped, "bird": _bird, "fish": _fish}[kind](rng)


def _quadruped(rng: np.random.Generator) -> trimesh.Trimesh:
    bl, bh, bw = rng.uniform(0.45, 0.75), rng.uniform(0.18, 0.3), rng.uniform(0.15, 0.25)
    leg = rng.uniform(0.35, 0.75)
    neck_len, neck_up = rng.uniform(0.15, 0.6), rng.uniform(0.3, 1.3)
    head_l = rng.uniform(0.12, 0.22)
    tail_l = rng.uniform(0.1, 0.6)
    lying = rng.uniform() < 0.15
    body_y = leg + bh * 0.5 if not lying else bh
    nrng = np.random.default_rng(rng.integers(2**32))
    gait = rng.uniform(-0.35, 0.35, 4)
    shoulder = np.array([bl * 0.75, body_y + bh * 0.2, 0])
    neck_end = shoulder + neck_len * np.array([np.cos(neck_up), np.sin(neck_up), 0])
    head_dir = np.array([np.cos(neck_up - 1.3), np.sin(neck_up - 1.3), 0])
    head_c = neck_end + head_dir * head_l * 0.5
    tail_a = np.array([-bl * 0.95, body_y + bh * 0.3, 0])
    droop = rng.uniform(-1.2, 0.6)
    tail_b = tail_a + tail_l * np.array([-np.cos(droop), np.sin(droop), 0])
    feet, knees, hips = [], [], []
    for i, (fx, sz) in enumerate([(0.65, 1), (0.65, -1), (-0.65, 1), (-0.65, -1)]):
        hip = np.array([fx * bl, body_y - bh * 0.3, sz * bw * 0.6])
        if lying:
            knee = hip + [0.15 * np.sign(fx), -bh * 0.5, sz * 0.05]
            foot = knee + [0.2, -0.02, 0]
        else:
            a = gait[i]
            knee = hip + leg * 0.5 * np.array([np.sin(a), -np.cos(a), 0])
            foot = knee + leg * 0.5 * np.array([np.sin(a * 0.3) - 0.1 * (fx < 0), -1, 0])
            foot[1] = min(foot[1], 0.0 + 0.03)
        hips.append(hip), knees.append(knee), feet.append(foot)
    pts = [shoulder, neck_end, head_c, tail_b, tail_a, *feet, [bl + 0.1, body_y, 0], [-bl - 0.1, body_y, 0]]

    def f(p):
        d = ellipsoid(p, (0, body_y, 0), (bl, bh, bw))
        d = smin(d, ellipsoid(p, (bl * 0.55, body_y + 0.03, 0), (bl * 0.4, bh * 1.1, bw * 1.05)), 0.08)
        d = smin(d, capsule(p, shoulder, neck_end, bh * 0.55, head_l * 0.4), 0.08)
        d = smin(d, ellipsoid(p, head_c, (head_l * 0.6, head_l * 0.42, head_l * 0.4)), 0.05)
        d = smin(d, capsule(p, head_c, head_c + head_dir * head_l * 0.9, head_l * 0.3, head_l * 0.22), 0.04)
        for sz in (-1, 1):
            ear = head_c + [-head_l * 0.2, head_l * 0.45, sz * head_l * 0.25]
            d = smin(d, capsule(p, head_c + [-head_l * 0.2, 0.0, sz * head_l * 0.2], ear, 0.035, 0.012), 0.02)
            d = ssub(
                d, sphere(p, head_c + head_dir * head_l * 0.25 + [0, head_l * 0.15, sz * head_l * 0.38], 0.025), 0.01
            )
        d = smin(d, capsule(p, tail_a, tail_b, 0.05, 0.02), 0.04)
        for hip, knee, foot in zip(hips, knees, feet):
            d = smin(d, capsule(p, hip, knee, bw * 0.45, 0.05), 0.06)
            d = smin(d, capsule(p, knee, foot, 0.05, 0.04), 0.03)
        if not lying and rng_base:
            d = smin(d, box(p, (0, -0.03, 0), (bl + 0.2, 0.04, bw + 0.2), 0.02), 0.03)
        return d + noise(p, nrng, 0.005, 18.0)

    rng_base = rng.uniform() < 0.5
    lo, hi = bounds(pts, 0.25)
    lo[1] = -0.1
    return march(f, lo, hi)


def _bird(rng: np.random.Generator) -> trimesh.Trimesh:
    bl, bh = rng.uniform(0.3, 0.45), rng.uniform(0.2, 0.28)
    stand_y = rng.uniform(0.2, 0.35)
    body_c = np.array([0.0, stand_y + bh, 0])
    pitch = rng.uniform(0.2, 0.9)  # body axis raised toward the head
    axis = np.array([np.cos(pitch), np.sin(pitch), 0])
    head_c = body_c + axis * bl * 1.05 + [0.03, 0.06, 0]
    hr = rng.uniform(0.09, 0.14)
    beak_l = rng.uniform(0.08, 0.3)
    beak_dir = np.array([np.cos(rng.uniform(-0.6, 0.2)), np.sin(rng.uniform(-0.6, 0.0)), 0])
    spread = rng.uniform() < 0.4
    wing_l = rng.uniform(0.4, 0.8) if spread else bl * 1.1
    wing_up = rng.uniform(0.2, 1.2)
    tail_c = body_c - axis * bl * 1.2
    nrng = np.random.default_rng(rng.integers(2**32))
    wings = []
    for sz in (-1, 1):
        if spread:
            root = body_c + axis * bl * 0.2 + [0, bh * 0.4, sz * bh * 0.6]
            tip = root + wing_l * np.array([-0.2, np.sin(wing_up), sz * np.cos(wing_up)])
        else:
            root = body_c + axis * bl * 0.3 + [0, bh * 0.2, sz * bh * 0.85]
            tip = root - axis * wing_l + [0, -0.03, sz * 0.02]
        wings.append((root, tip))
    pts = [
        body_c + [bl, bh, 0],
        body_c - [bl, bh, 0],
        head_c,
        head_c + beak_dir * beak_l,
        tail_c,
        [0, 0, 0.2],
        [0, 0, -0.2],
    ] + [w[1] for w in wings]

    def f(p):
        rot = np.stack([axis, [-axis[1], axis[0], 0], [0, 0, 1]], 1)
        d = ellipsoid(p, body_c, (bl, bh, bh * 0.9), rot)
        d = smin(d, sphere(p, head_c, hr), 0.08)
        d = smin(d, capsule(p, head_c, head_c + beak_dir * (hr + beak_l), hr * 0.35, 0.008), 0.02)
        for sz in (-1, 1):
            d = ssub(d, sphere(p, head_c + [hr * 0.35, hr * 0.25, sz * hr * 0.95], hr * 0.22), 0.01)
        tail_rot = np.stack([axis, [-axis[1], axis[0], 0], [0, 0, 1]], 1)
        d = smin(d, ellipsoid(p, tail_c, (bl * 0.45, 0.025, bh * 0.5), tail_rot), 0.04)
        for root, tip in wings:
            v = tip - root
            ln = np.linalg.norm(v)
            u = v / ln
            w = np.cross(u, [1.0, 0, 0] if abs(u[0]) < 0.9 else [0, 1.0, 0])
            w /= np.linalg.norm(w)
            r = np.stack([u, w, np.cross(u, w)], 1)
            wing = ellipsoid(p, (root + tip) / 2, (ln / 2 + 0.04, 0.025, bl * 0.45 if spread else bh * 0.7), r)
            wing = wing + 0.006 * np.abs(np.sin(40 * (p[0] * u[0] + p[1] * u[1] + p[2] * u[2])))  # feathers
            d = smin(d, wing, 0.04)
        for sz in (-1, 1):  # legs on a perch / rock
            d = smin(d, capsule(p, body_c + [0, -bh * 0.6, sz * 0.06], [0, stand_y * 0.3, sz * 0.06], 0.02), 0.03)
        d = smin(d, ellipsoid(p, (0, stand_y * 0.15, 0), (0.3, stand_y * 0.25 + 0.03, 0.2)), 0.04)
        return d + noise(p, nrng, 0.004, 20.0)

    lo, hi = bounds(pts, 0.15)
    lo[1] = min(lo[1], -0.05)
    return march(f, lo, hi)


def _fish(rng: np.random.Generator) -> trimesh.Trimesh:
    bl, bh, bw = rng.uniform(0.5, 0.75), rng.uniform(0.18, 0.35), rng.uniform(0.08, 0.14)
    bend = rng.uniform(-0.5, 0.5)
    tail_h = rng.uniform(0.2, 0.4)
    stand = rng.uniform() < 0.6
    y0 = rng.uniform(0.4, 0.6) if stand else 0.0
    nrng = np.random.default_rng(rng.integers(2**32))
    fin_h = rng.uniform(0.08, 0.22)

    def f(p):
        x, y, z = p
        zb = z - bend * (np.minimum(x, 0) ** 2)  # the body swims in a curve
        q = (x, y - y0, zb)
        d = ellipsoid(q, (0, 0, 0), (bl, bh, bw))
        tail = np.maximum(
            ellipsoid(q, (-bl - 0.02, 0, 0), (0.22, tail_h, 0.025)), -(np.abs(q[1]) * 0.9 - (q[0] + bl + 0.06))
        )  # forked: a V notch cut out
        d = smin(d, tail, 0.05)
        d = smin(
            d, ellipsoid(q, (-bl * 0.1, bh * 0.9, 0), (bl * 0.4, fin_h, 0.02), rot_matrix([0, 0, 1], 0.3)), 0.04
        )  # dorsal fin
        d = smin(
            d,
            ellipsoid(q, (-bl * 0.45, -bh * 0.8, 0), (bl * 0.2, fin_h * 0.6, 0.02), rot_matrix([0, 0, 1], -0.4)),
            0.04,
        )
        for sz in (-1, 1):
            d = smin(
                d,
                ellipsoid(q, (bl * 0.4, -bh * 0.3, sz * bw * 0.9), (0.12, 0.04, 0.05), rot_matrix([0, 0, 1], -0.5)),
                0.03,
            )
            d = ssub(d, sphere(q, (bl * 0.72, bh * 0.2, sz * bw * 0.75), 0.03), 0.01)  # eyes
        d = ssub(d, ellipsoid(q, (bl * 0.55, -bh * 0.05, 0), (0.1, 0.005, bw * 1.2)), 0.01)  # gill / mouth
        d = d + 0.004 * np.abs(np.sin(60 * q[0] + 30 * q[1])) * (np.abs(q[0]) < bl * 0.8)  # scales
        if stand:
            d = smin(d, capsule(p, (0, 0.05, 0), (0, y0 - bh * 0.8, 0), 0.03), 0.03)
            d = smin(d, cylinder(p, (0, 0.04, 0), 0.22, 0.04), 0.02)
        return d + noise(p, nrng, 0.003, 20.0)

    zb = abs(bend) * bl**2 + 0.3
    lo = (-bl - 0.3, min(y0 - bh - 0.25, -0.02), -zb)
    hi = (bl + 0.1, y0 + bh + fin_h + 0.1, zb)
    return march(f, lo, hi)
