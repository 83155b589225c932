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
