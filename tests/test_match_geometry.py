"""Unit tests of pointkit.match on synthetic data: affine F, affine maps, GRIC, matching, helpers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import null_space
from scipy.optimize import minimize

from pointkit.match.features import match_descriptors
from pointkit.match.geometry import (
    affine_f_errors,
    affine_map_errors,
    fit_affine_f,
    fit_affine_map,
    gric,
    joint_points,
    ransac_affine_f,
    ransac_affine_map,
)
from pointkit.match.pipeline import letterbox_transform, sanitize_id, split_of


def affine_camera(rng, yaw_deg):
    """2x4 affine world->pixel camera: rotation about y, scale 200, principal point (320, 240)."""
    a = np.deg2rad(yaw_deg)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    R = R @ np.linalg.qr(np.eye(3) + 0.05 * rng.standard_normal((3, 3)))[0]
    return np.hstack([200 * R[:2], [[320.0], [240.0]]])


def project(P, Xw):
    return Xw @ P[:, :3].T + P[:, 3]


def two_views(rng, n=200, yaw=20.0, noise=0.0):
    Xw = rng.uniform(-1, 1, (n, 3))
    P1, P2 = affine_camera(rng, 0.0), affine_camera(rng, yaw)
    x1 = project(P1, Xw) + noise * rng.standard_normal((n, 2))
    x2 = project(P2, Xw) + noise * rng.standard_normal((n, 2))
    return P1, P2, x1, x2


def true_affine_f(P1, P2):
    """F_A from the cameras: the normal of the 3D subspace {(P2 X, P1 X)} of R^4, independently of the fit."""
    M = np.vstack([P2[:, :3], P1[:, :3]])  # (4, 3)
    n = null_space(M.T)[:, 0]
    return np.concatenate([n, [-n @ np.concatenate([P2[:, 3], P1[:, 3]])]])


class TestAffineF:
    def test_exact_fit_matches_cameras(self):
        rng = np.random.default_rng(0)
        P1, P2, x1, x2 = two_views(rng)
        f = fit_affine_f(joint_points(x1, x2))
        expected = true_affine_f(P1, P2)
        sign = np.sign(f[0] * expected[0] + f[1] * expected[1] + f[2] * expected[2] + f[3] * expected[3])
        np.testing.assert_allclose(f * sign, expected, atol=1e-8)
        assert affine_f_errors(f, joint_points(x1, x2)).max() < 1e-8

    def test_error_is_distance_to_hyperplane(self):
        rng = np.random.default_rng(1)
        P1, P2, x1, x2 = two_views(rng, n=5, noise=2.0)
        f = true_affine_f(P1, P2)
        X = joint_points(x1, x2)
        err = affine_f_errors(f, X)
        # nearest point on the hyperplane, found by a generic optimiser with the constraint
        for k in range(5):
            res = minimize(
                lambda y: np.sum((y - X[k]) ** 2),
                X[k],
                method="SLSQP",
                constraints={"type": "eq", "fun": lambda y: f[:4] @ y + f[4]},
            )
            assert np.sqrt(res.fun) == pytest.approx(err[k], abs=1e-4)

    def test_ransac_finds_inliers_and_is_seeded(self):
        rng = np.random.default_rng(2)
        P1, P2, x1, x2 = two_views(rng, n=300, noise=0.2)
        out = rng.random(300) < 0.4
        x2[out] = rng.uniform(0, 640, (out.sum(), 2))
        r1 = ransac_affine_f(x1, x2, 1.0, np.random.default_rng(7))
        r2 = ransac_affine_f(x1, x2, 1.0, np.random.default_rng(7))
        assert np.array_equal(r1.inliers, r2.inliers) and np.array_equal(r1.model, r2.model)
        true_in = ~out
        assert (r1.inliers & true_in).sum() / true_in.sum() > 0.95
        # an outlier may fall near the plane by chance (uniform in 640 px, band of 2 px): few do
        assert (r1.inliers & out).sum() < 0.05 * out.sum()
        expected = true_affine_f(P1, P2)
        assert abs(abs(r1.model[:4] @ expected[:4]) - 1) < 1e-4

    def test_too_few_points(self):
        assert ransac_affine_f(np.zeros((4, 2)), np.zeros((4, 2)), 1.0, np.random.default_rng(0)) is None

    def test_many_outliers_stop_without_dividing_by_zero(self):
        # 4 inliers of 50k: 1 - (4 / 50k)^4 rounds to 1.0, so the stopping rule needs log1p
        rng = np.random.default_rng(1)
        x1, x2 = rng.uniform(0, 1000, (50_000, 2)), rng.uniform(0, 1000, (50_000, 2))
        r = ransac_affine_f(x1, x2, 1e-6, np.random.default_rng(0))
        assert r.hypotheses == 2048 and r.inliers.sum() >= 4


class TestAffineMap:
    def test_fit_and_error_against_optimiser(self):
        rng = np.random.default_rng(3)
        A, t = np.array([[0.9, 0.2], [-0.1, 1.1]]), np.array([5.0, -3.0])
        x1 = rng.uniform(0, 500, (50, 2))
        x2 = x1 @ A.T + t
        mean, normals = fit_affine_map(joint_points(x1, x2))
        np.testing.assert_allclose(-np.linalg.inv(normals[:2].T) @ normals[2:].T, A, atol=1e-9)
        noisy2 = x2 + rng.normal(0, 1.5, x2.shape)
        err = affine_map_errors(mean, normals, joint_points(x1, noisy2))
        for k in range(5):
            res = minimize(lambda y: np.sum((noisy2[k] - A @ y - t) ** 2) + np.sum((x1[k] - y) ** 2), x1[k])
            assert np.sqrt(res.fun) == pytest.approx(err[k], abs=1e-3)


class TestGric:
    def test_prefers_affine_map_without_parallax(self):
        rng = np.random.default_rng(4)
        A = np.array([[0.95, 0.1], [-0.08, 1.02]])
        x1 = rng.uniform(0, 600, (300, 2))
        x2 = x1 @ A.T + [4.0, 7.0] + rng.normal(0, 0.3, (300, 2))
        f = ransac_affine_f(x1, x2, 1.0, np.random.default_rng(0))
        h = ransac_affine_map(x1, x2, 1.0, np.random.default_rng(0))
        sigma = 1.4826 * np.median(f.errors[f.inliers])
        assert gric(h.errors, sigma, 2, 6) < gric(f.errors, sigma, 3, 4)

    def test_prefers_affine_f_with_parallax(self):
        rng = np.random.default_rng(5)
        _, _, x1, x2 = two_views(rng, n=300, yaw=25.0, noise=0.3)
        f = ransac_affine_f(x1, x2, 1.0, np.random.default_rng(0))
        h = ransac_affine_map(x1, x2, 1.0, np.random.default_rng(0))
        sigma = 1.4826 * np.median(f.errors[f.inliers])
        assert gric(f.errors, sigma, 3, 4) < gric(h.errors, sigma, 2, 6)

    def test_formula(self):
        e = np.array([0.0, 1.0, 10.0])
        # rho = 0 + 1 + min(100, 2 * (4 - 3)) = 3; + ln4 * 3 * 3 + ln(12) * 4
        assert gric(e, 1.0, 3, 4) == pytest.approx(3 + 9 * np.log(4) + 4 * np.log(12))


def test_mutual_ratio_matching():
    rng = np.random.default_rng(6)
    a = rng.random((50, 128)).astype(np.float32)
    perm = rng.permutation(50)
    b = a[perm] + rng.normal(0, 0.01, (50, 128)).astype(np.float32)
    b = np.vstack([b, a[:1] + 0.011])  # a near-duplicate of a[0] makes a[0] ambiguous
    m = match_descriptors(a, b, ratio=0.8)
    inverse = np.argsort(perm)
    assert 0 not in m[:, 0]
    assert len(m) == 49 and np.array_equal(m[:, 1], inverse[m[:, 0]])


def test_pair_with_fewer_matches_than_ransac_needs():
    # --min-matches 4 (its least) lets a 4-match pair through to RANSAC, which needs 5: too few inliers, no crash
    from pointkit.match.features import Features
    from pointkit.match import MatchSettings, match_pair

    rng = np.random.default_rng(7)
    f = Features(rng.uniform(0, 100, (4, 2)), rng.random((4, 128)).astype(np.float32), np.ones(2))
    res = match_pair(f, f, MatchSettings(min_matches=4), np.random.default_rng(0))
    assert (res.matches, res.inliers, res.kept) == (4, 0, False) and res.reason.startswith("too few inliers")


def test_match_settings_built_in_python_are_checked_like_the_options():
    from pointkit.errors import PointkitError
    from pointkit.match import MatchSettings

    with pytest.raises(PointkitError, match=r"^--min-matches 3: 3 is not in the range x>=4\.$"):
        MatchSettings(min_matches=3)
    with pytest.raises(PointkitError, match=r"^--ratio 1\.5: "):
        MatchSettings(ratio=1.5)
    with pytest.raises(PointkitError, match=r"^--matcher 'nope': no pointkit.matchers plugin named 'nope'"):
        MatchSettings(matcher="nope")


def test_letterbox_transform_maps_corners():
    scale, offset, (w, h) = letterbox_transform((640, 480), 256)
    assert (w, h) == (256, 192)
    np.testing.assert_allclose(np.array([0, 0]) * scale + offset, [0, 32])
    np.testing.assert_allclose(np.array([640, 480]) * scale + offset, [256, 224])


def test_ids_and_splits():
    taken: set[str] = set()
    assert sanitize_id("../evil name", taken) == "evil_name"
    assert sanitize_id("../evil name", taken) == "evil_name-2"
    assert sanitize_id("...", taken) == "cluster"
    assert sanitize_id("Rodin: Le Penseur", set()) == "Rodin__Le_Penseur"
    # the same rule names mesh files in render-synthetic (sub-folders joined by '--')
    from pathlib import Path

    from pointkit.render.dataset import mesh_object_id

    root = Path("/meshes")
    assert mesh_object_id(root / "scans" / "bunny.obj", root) == "scans--bunny.obj"
    assert mesh_object_id(root / "_Rodin Penseur.ply", root) == "Rodin_Penseur.ply"
    assert mesh_object_id(root / "___.ply", root) == "ply"
    splits = [split_of(f"cluster{i}") for i in range(400)]
    assert splits == [split_of(f"cluster{i}") for i in range(400)]
    assert 0.7 < splits.count("train") / 400 < 0.9 and splits.count("val") > 10 and splits.count("test") > 10
    # whole per mille, no float edge: crc32 % 1000 == 899 is val, == 900 is test (as docs/matching.md says)
    assert (split_of("cluster952"), split_of("cluster342")) == ("val", "test")
