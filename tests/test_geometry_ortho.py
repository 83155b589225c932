"""The torch geometry core (``pointkit.geometry.ortho``): values against independent homogeneous
numpy algebra, batch shapes, gradients (float64 gradcheck), and the numpy face it serves."""

from __future__ import annotations

import numpy as np
import torch

from pointkit.geometry import ortho
from pointkit.geometry.camera import OrthoCamera


def _general_camera(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A random rotation + translation and a sheared, anisotropic affine pixel map (float64)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.det(q))
    pose = torch.cat([q, torch.randn(3, 1, generator=g, dtype=torch.float64)], 1)
    k = torch.tensor([[40.0, 3.0, 20.0], [0.0, 35.0, 30.0]], dtype=torch.float64)
    affine = k[:, :2] @ pose[:2] + torch.cat([torch.zeros(2, 3, dtype=torch.float64), k[:, 2:]], 1)
    return pose, affine


def test_project_matches_homogeneous_algebra_and_unproject_inverts_it():
    pose, affine = _general_camera(0)
    points = torch.randn(4, 50, 3, dtype=torch.float64)
    uv, z = ortho.project(points, pose, affine)
    homogeneous = np.concatenate([points.numpy(), np.ones((4, 50, 1))], -1)
    assert np.allclose(uv.numpy(), homogeneous @ affine.numpy().T, atol=1e-12)
    assert np.allclose(z.numpy(), homogeneous @ pose.numpy()[2], atol=1e-12)
    assert torch.allclose(ortho.unproject(uv, z, pose, affine), points, atol=1e-10)


def test_orbit_pose_is_a_rotation_looking_at_the_origin_from_the_view_sphere():
    az = torch.tensor([[0.0, 33.0, -120.0], [200.0, 10.0, 90.0]], dtype=torch.float64)
    el = torch.tensor([[0.0, 45.0, -30.0], [80.0, -85.0, 5.0]], dtype=torch.float64)
    pose = ortho.orbit_pose(az, el, distance=2.5)
    assert pose.shape == (2, 3, 3, 4)
    rotation, t = pose[..., :3], pose[..., 3]
    assert torch.allclose(rotation @ rotation.transpose(-1, -2), torch.eye(3, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(torch.det(rotation), torch.ones(2, 3, dtype=torch.float64))
    a, e = np.radians(az.numpy()), np.radians(el.numpy())
    centre = 2.5 * np.stack([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)], -1)
    assert np.allclose(-(rotation.transpose(-1, -2) @ t[..., None])[..., 0].numpy(), centre, atol=1e-12)
    assert np.allclose(t.numpy(), [0.0, 0.0, 2.5], atol=1e-12)  # the origin straight ahead at depth 2.5
    assert (rotation[..., 0, 1].abs() < 1e-12).all()  # image x stays horizontal (+Y up)


def test_pixel_rays_start_at_their_pixel_centres_and_run_forward():
    pose = ortho.orbit_pose(torch.tensor([25.0, -70.0]), torch.tensor([15.0, 40.0]))
    affine = ortho.ortho_affine(pose, ortho.orbit_scale(12), (6.0, 6.0))
    origins, direction = ortho.pixel_rays(pose, affine, (12, 10))
    assert origins.shape == (2, 12, 10, 3) and direction.shape == (2, 3)
    uv, z = ortho.project(origins.reshape(2, -1, 3), pose, affine)
    v, u = np.mgrid[0:12, 0:10] + 0.5
    assert np.allclose(uv.numpy(), np.stack([u, v], -1).reshape(1, -1, 2), atol=1e-5)
    assert np.allclose(z.numpy(), 0.0, atol=1e-5)
    step = ortho.project(origins.reshape(2, -1, 3) + 0.7 * direction[:, None], pose, affine)
    assert torch.allclose(step[0], uv, atol=1e-5) and torch.allclose(step[1], z + 0.7, atol=1e-5)


def test_projection_gradients_float64():
    pose, affine = _general_camera(1)
    points = torch.randn(7, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda p, a: ortho.project(p, pose, a), (points, affine.requires_grad_()))
    uv = torch.randn(7, 2, dtype=torch.float64, requires_grad=True)
    depth = torch.randn(7, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, d, a: ortho.unproject(x, d, pose, a), (uv, depth, affine))


def test_numpy_camera_and_the_engine_use_the_same_core():
    from pointkit.engine.render import orbit_cameras

    camera = OrthoCamera.orbit(40.0, 25.0, 32)
    batch = orbit_cameras(torch.tensor([[40.0]]), torch.tensor([[25.0]]), 32)
    assert np.allclose(batch.world_to_camera[0, 0].numpy(), camera.world_to_camera, atol=1e-6)
    assert np.allclose(batch.affine[0, 0].numpy(), camera.affine, atol=1e-4)
    origins, direction = batch.pixel_rays()
    numpy_origins, numpy_direction = camera.pixel_rays()
    assert np.allclose(origins[0, 0].numpy(), numpy_origins.reshape(-1, 3), atol=1e-5)
    assert np.allclose(direction[0, 0].numpy(), numpy_direction, atol=1e-6)


def _front_camera(size: int, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Camera z = world Z + 2, uv = scale * (X, Y) + size / 2 (float64)."""
    pose = torch.cat([torch.eye(3), torch.tensor([[0.0], [0.0], [2.0]])], 1).double()
    return pose, ortho.ortho_affine(pose, scale, (size / 2, size / 2))


def _on_surface(uv: torch.Tensor, depth_of_xy, scale: float, size: int) -> torch.Tensor:
    """World points (N, 3) of the surface camera z = depth_of_xy(x, y) seen at pixels uv (N, 2)."""
    xy = (uv - size / 2) / scale
    return torch.cat([xy, depth_of_xy(xy[:, 0], xy[:, 1])[:, None] - 2.0], 1)


def test_visible_keeps_points_on_a_steep_plane_and_drops_them_off_it_on_either_side():
    size, scale = 32, 10.0
    pose, affine = _front_camera(size, scale)
    plane = lambda x, y: 2.0 + 3.0 * x - 0.5 * y  # noqa: E731  (a slope of 3: 0.3 depth per pixel)
    centres = (torch.arange(size, dtype=torch.float64) + 0.5 - size / 2) / scale
    depth = plane(centres[None, :], centres[:, None])  # (H, W): rows v, columns u
    mask = torch.ones(size, size, dtype=torch.bool)
    uv = torch.rand(500, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * (size - 1) + 0.5
    points = _on_surface(uv, plane, scale, size)
    tolerance = 0.5 / scale
    keep, got_uv = ortho.visible(points, depth, mask, pose, affine, tolerance)
    assert torch.allclose(got_uv, uv, atol=1e-12) and keep.all()  # bilinear is exact on a plane
    for off in (1.5 * tolerance, -1.5 * tolerance):  # behind it (occluded), in front of it (depth off)
        shifted = points + torch.tensor([0.0, 0.0, off], dtype=torch.float64)
        assert not ortho.visible(shifted, depth, mask, pose, affine, tolerance)[0].any()
    # Outside the image or over a background pixel: never visible.
    outside = _on_surface(torch.tensor([[-0.5, 3.0], [3.0, size + 0.5]], dtype=torch.float64), plane, scale, size)
    assert not ortho.visible(outside, depth, mask, pose, affine, 1e9)[0].any()
    assert not ortho.visible(points, depth, torch.zeros_like(mask), pose, affine, 1e9)[0].any()


def test_visible_splits_an_inner_occlusion_edge_and_uses_the_range_at_the_silhouette():
    size, scale = 16, 10.0
    pose, affine = _front_camera(size, scale)
    depth = torch.full((size, size), 1.5, dtype=torch.float64)
    depth[:, 8:] = 2.5  # u >= 8: a back surface, 1.0 behind the front one
    mask = torch.ones(size, size, dtype=torch.bool)
    mask[:, 12:] = False  # u >= 12: background
    tolerance = 0.2 / scale

    def at(u: float, v: float, z: float) -> bool:
        point = _on_surface(
            torch.tensor([[u, v]], dtype=torch.float64), lambda x, y: torch.full_like(x, z), scale, size
        )
        return bool(ortho.visible(point, depth, mask, pose, affine, tolerance)[0][0])

    assert at(5.0, 5.0, 1.5) and at(10.0, 5.0, 2.5)  # away from the edge: each surface as it is
    assert not at(8.2, 5.0, 2.5)  # a back point 0.2 px past the edge: its 4 centres straddle the step
    assert not at(5.0, 5.0, 2.5)  # behind the front surface: occluded
    # At the silhouette (u in [11.5, 12): 2 of the 4 centres are background) the range of the two
    # object centres decides.
    assert at(11.8, 5.0, 2.5) and not at(11.8, 5.0, 2.5 + 2 * tolerance)


def test_visible_is_batched_with_one_tolerance_per_view():
    size, scale = 16, 8.0
    pose, affine = _front_camera(size, scale)
    depth = 2.0 + 0.1 * torch.rand(2, size, size, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mask = torch.rand(2, size, size, generator=torch.Generator().manual_seed(2)) > 0.3
    points = torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2 - 1
    points[..., 2] = 0.05 * points[..., 2] + 0.05
    tolerance = torch.tensor([0.02, 0.08], dtype=torch.float64)
    keep, uv = ortho.visible(points, depth, mask, pose.expand(2, 3, 4), affine.expand(2, 2, 4), tolerance)
    for b in range(2):
        one, one_uv = ortho.visible(points[b], depth[b], mask[b], pose, affine, float(tolerance[b]))
        assert torch.equal(keep[b], one) and torch.equal(uv[b], one_uv)
    assert 0 < keep.sum() < keep.numel()
