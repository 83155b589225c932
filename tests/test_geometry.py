"""Orthographic cameras, exact ray-cast depth against closed forms, ground-truth correspondences."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from pointkit.errors import PointkitError
from pointkit.geometry import (
    CAMERA_DISTANCE,
    DEFAULT_MARGIN,
    OrthoCamera,
    all_pair_correspondences,
    gt_correspondences,
    look_at_orbit,
    project,
    unproject,
)
from pointkit.render import render_views

R = 64


def analytic_axes(azimuth: float, elevation: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Camera x (right), y (down), z (forward) in world, written out by hand (Y up)."""
    a, e = np.radians(azimuth), np.radians(elevation)
    x = np.array([np.cos(a), 0.0, -np.sin(a)])
    y = np.array([np.sin(a) * np.sin(e), -np.cos(e), np.cos(a) * np.sin(e)])
    z = -np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
    return x, y, z


def pixel_xy(resolution: int, margin: float = DEFAULT_MARGIN) -> tuple[np.ndarray, np.ndarray, float]:
    s = resolution / 2 / (1 + margin)
    v, u = np.mgrid[0:resolution, 0:resolution] + 0.5
    return (u - resolution / 2) / s, (v - resolution / 2) / s, s


class TestCamera:
    @pytest.mark.parametrize("azimuth,elevation", [(0, 0), (90, 0), (200, -30), (33, 45)])
    def test_pose_matches_hand_written_axes(self, azimuth, elevation):
        pose = look_at_orbit(azimuth, elevation)
        x, y, z = analytic_axes(azimuth, elevation)
        np.testing.assert_allclose(pose[:, :3], np.stack([x, y, z]), atol=1e-12)
        assert np.linalg.det(pose[:, :3]) == pytest.approx(1.0)
        np.testing.assert_allclose(pose[:, 3], [0, 0, CAMERA_DISTANCE], atol=1e-12)

    def test_unit_sphere_fills_image_with_margin(self):
        cam = OrthoCamera.orbit(10, 20, 100)
        x, y, _ = analytic_axes(10, 20)
        theta = np.linspace(0, 2 * np.pi, 50)
        rim = np.cos(theta)[:, None] * x + np.sin(theta)[:, None] * y
        uv, z = project(rim, cam.world_to_camera, cam.affine)
        np.testing.assert_allclose(np.linalg.norm(uv - 50, axis=1), 50 / (1 + DEFAULT_MARGIN))
        np.testing.assert_allclose(z, CAMERA_DISTANCE)
        # u right, v down: world +X is on the right and +Y (up) on top of an azimuth-0 view.
        front = OrthoCamera.orbit(0, 0, 100)
        uv, _ = project(np.array([[0.5, 0, 0], [0, 0.5, 0]]), front.world_to_camera, front.affine)
        assert uv[0, 0] > 50 and uv[1, 1] < 50

    def test_unproject_inverts_project(self):
        cam = OrthoCamera.orbit(77, -12, 48)
        pts = np.random.default_rng(0).normal(size=(100, 3))
        uv, z = project(pts, cam.world_to_camera, cam.affine)
        np.testing.assert_allclose(unproject(uv, z, cam.world_to_camera, cam.affine), pts, atol=1e-10)

    def test_rejects_poles(self):
        with pytest.raises(PointkitError):
            look_at_orbit(0, 90)


class TestExactDepth:
    def test_sphere_depth_closed_form(self):
        sphere = trimesh.creation.icosphere(subdivisions=6)
        for azimuth, elevation in [(0, 0), (40, 30)]:
            (view,) = render_views(sphere, [(azimuth, elevation)], R)
            x, y, _ = pixel_xy(R)
            r2 = x * x + y * y
            inside = r2 < 0.95
            expected = CAMERA_DISTANCE - np.sqrt(np.clip(1 - r2, 0, None))
            assert view.mask[inside].all() and not view.mask[r2 > 1.0].any()
            assert np.abs(view.depth[inside] - expected[inside]).max() < 1e-3
            assert (view.depth[~view.mask] == 0).all()

    def test_cube_depth_closed_form(self):
        cube = trimesh.creation.box([1.0, 1.0, 1.0])
        h = 1 / np.sqrt(3)  # half side after scaling the half-diagonal to 1
        x, y, _ = pixel_xy(R)
        front, diagonal = render_views(cube, [(0, 0), (45, 0)], R)
        inside = (np.abs(x) < h - 0.02) & (np.abs(y) < h - 0.02)
        assert np.abs(front.depth[inside] - (CAMERA_DISTANCE - h)).max() < 1e-3
        assert not front.mask[(np.abs(x) > h + 0.02) | (np.abs(y) > h + 0.02)].any()
        inside = (np.abs(x) < np.sqrt(2) * h - 0.02) & (np.abs(y) < h - 0.02)
        expected = CAMERA_DISTANCE - (np.sqrt(2) * h - np.abs(x))
        assert np.abs(diagonal.depth[inside] - expected[inside]).max() < 1e-3


class TestCorrespondences:
    def test_sphere_matches_analytic_projection(self):
        views = [(0, 0), (60, 20)]
        a, b = render_views(trimesh.creation.icosphere(subdivisions=6), views, R)
        uv_a, uv_b = gt_correspondences(a, b)
        assert uv_a.dtype == np.float32 and uv_a.shape == uv_b.shape and len(uv_a) > 500
        x, y, s = pixel_xy(R)
        xa, ya, za = analytic_axes(*views[0])
        xb, yb, zb = analytic_axes(*views[1])
        px, py = (uv_a[:, 0] - R / 2) / s, (uv_a[:, 1] - R / 2) / s
        # The analytic sphere point seen at (px, py) in view a (unit sphere, facing the camera).
        points = px[:, None] * xa + py[:, None] * ya - np.sqrt(np.clip(1 - px**2 - py**2, 0, None))[:, None] * za
        expected = np.stack([points @ xb, points @ yb], 1) * s + R / 2
        assert np.abs(uv_b - expected).max() < 0.5
        # Kept points face camera b (the back hemisphere is hidden), up to the silhouette band.
        assert (points @ -zb > -0.1).all()
        # ... and every source point that clearly faces camera b (over a pixel inside its silhouette) is kept.
        from pointkit.geometry import object_pixels

        all_uv, all_points = object_pixels(a)
        facing = {tuple(p) for p in all_uv[(all_points @ -zb) > 0.3].astype(np.float32).tolist()}
        assert facing and facing <= {tuple(p) for p in uv_a.tolist()}

    def test_hidden_points_are_excluded(self):
        # A slab in front (towards the azimuth-0 camera at +Z) hides a small cube behind it.
        slab = trimesh.creation.box([1.4, 1.4, 0.1], transform=trimesh.transformations.translation_matrix([0, 0, 0.6]))
        cube = trimesh.creation.box([0.4, 0.4, 0.4], transform=trimesh.transformations.translation_matrix([0, 0, -0.6]))
        side, front = render_views(trimesh.util.concatenate([slab, cube]), [(90, 0), (0, 0)], R)
        uv_side, _ = gt_correspondences(side, front)
        # World z of each kept side-view pixel: the cube lies at z < 0, the slab at z > 0.
        from pointkit.geometry import object_pixels

        uv_all, points = object_pixels(side)
        cube_pixels = {tuple(p) for p in uv_all[points[:, 2] < 0].astype(np.float32).tolist()}
        assert len(cube_pixels) > 50
        assert not cube_pixels & {tuple(p) for p in uv_side.tolist()}
        # Without the depth test the hidden cube would be matched onto the slab.
        uv_nodepth, _ = gt_correspondences(side, front, depth_tolerance=np.inf)
        assert len(cube_pixels & {tuple(p) for p in uv_nodepth.tolist()}) > 50

    def test_subset_is_seeded(self):
        a, b = render_views(trimesh.creation.icosphere(), [(0, 0), (30, 0)], 32)
        full_a, _ = gt_correspondences(a, b)
        s1 = gt_correspondences(a, b, max_points=50, seed=3)
        s2 = gt_correspondences(a, b, max_points=50, seed=3)
        s3 = gt_correspondences(a, b, max_points=50, seed=4)
        assert len(s1[0]) == 50
        np.testing.assert_array_equal(s1[0], s2[0])
        assert not np.array_equal(s1[0], s3[0])
        assert {tuple(p) for p in s1[0].tolist()} <= {tuple(p) for p in full_a.tolist()}
        for everything in (None, 0, -1):
            assert len(gt_correspondences(a, b, max_points=everything)[0]) == len(full_a)

    def test_all_pairs_equal_single_pairs(self):
        views = render_views(trimesh.creation.icosphere(), [(0, 0), (30, 10), (70, -10)], 32)
        pairs, offsets, src, tgt = all_pair_correspondences(views, max_points=40, seed=7)
        assert pairs.tolist() == [[0, 1], [0, 2], [1, 0], [1, 2], [2, 0], [2, 1]]
        for p, (i, j) in enumerate(pairs):
            ua, ub = gt_correspondences(views[i], views[j], max_points=40, seed=7 + p)
            np.testing.assert_array_equal(src[offsets[p] : offsets[p + 1]], ua)
            np.testing.assert_array_equal(tgt[offsets[p] : offsets[p + 1]], ub)
