"""Orthographic view-sphere cameras in torch, batched: the one geometry core of pointkit's renderers.

The numpy renderers (``pointkit.render``, through :class:`~pointkit.geometry.camera.OrthoCamera`)
call these in float64 and convert; the torch engine (``pointkit.engine``) calls them on its device
in float32. Conventions (docs/rendering.md): world +Y up; camera x right, y down, z forward; a
camera at azimuth ``a``, elevation ``e`` (degrees) sits at ``distance * (sin a cos e, sin e,
cos a cos e)`` looking at the origin; pixel centres at i + 0.5; ``uv = affine @ [X, Y, Z, 1]``.
Every function takes any leading batch shape ``...``.
"""

from __future__ import annotations

import torch

CAMERA_DISTANCE = 2.0
"""Distance from the origin to every camera; object depth (camera z) lies in [1, 3]."""
DEFAULT_MARGIN = 0.05
"""The unit sphere's image has radius (R / 2) / (1 + margin) pixels for an R x R image."""


def orbit_pose(azimuth: torch.Tensor, elevation: torch.Tensor, distance: float = CAMERA_DISTANCE) -> torch.Tensor:
    """World -> camera [R | t] (..., 3, 4) of cameras at ``azimuth``, ``elevation`` (...) degrees
    (elevation strictly inside (-90, 90)), looking at the origin; rows of R: camera x, y, z in world."""
    a, e = torch.deg2rad(azimuth), torch.deg2rad(elevation)
    centre = distance * torch.stack([torch.sin(a) * torch.cos(e), torch.sin(e), torch.cos(a) * torch.cos(e)], -1)
    z = -centre / torch.linalg.vector_norm(centre, dim=-1, keepdim=True)
    up = torch.zeros_like(z)
    up[..., 1] = 1.0
    x = torch.linalg.cross(z, up)
    x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    y = torch.linalg.cross(z, x)
    rotation = torch.stack([x, y, z], -2)
    return torch.cat([rotation, -(rotation @ centre[..., None])], -1)


def orbit_scale(resolution: int, margin: float = DEFAULT_MARGIN) -> float:
    """Pixels per world unit of an R x R orbit camera framing the unit sphere with ``margin``."""
    return (resolution / 2.0) / (1.0 + margin)


def ortho_affine(world_to_camera: torch.Tensor, scale: float, centre: tuple[float, float]) -> torch.Tensor:
    """World -> pixel (..., 2, 4) of orthographic cameras: ``uv = s * (x, y)_camera + centre``."""
    affine = world_to_camera[..., :2, :] * scale
    offset = torch.tensor(centre, dtype=affine.dtype, device=affine.device)
    return torch.cat([affine[..., :3], affine[..., 3:] + offset[:, None]], -1)


def pixel_map(world_to_camera: torch.Tensor, affine: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2x2 map M (..., 2, 2) and offset c (..., 2) with ``uv = M @ (x, y)_camera + c`` of any
    affine camera given by its pose and ``affine = [M | c] @ [R_xy | t_xy]``."""
    m = affine[..., :3] @ world_to_camera[..., :2, :3].transpose(-1, -2)
    return m, affine[..., 3] - (m @ world_to_camera[..., :2, 3:])[..., 0]


def project(
    points: torch.Tensor, world_to_camera: torch.Tensor, affine: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """World points (..., N, 3) -> pixels uv (..., N, 2) and camera depth z (..., N)."""
    uv = points @ affine[..., :3].transpose(-1, -2) + affine[..., None, :, 3]
    z = (points * world_to_camera[..., None, 2, :3]).sum(-1) + world_to_camera[..., None, 2, 3]
    return uv, z


def unproject(
    uv: torch.Tensor, depth: torch.Tensor, world_to_camera: torch.Tensor, affine: torch.Tensor
) -> torch.Tensor:
    """World points (..., N, 3) of pixels uv (..., N, 2) at camera depth (..., N)."""
    m, c = pixel_map(world_to_camera, affine)
    xy = (uv - c[..., None, :]) @ torch.linalg.inv(m).transpose(-1, -2)
    camera = torch.cat([xy, depth.expand(xy.shape[:-1])[..., None]], -1)
    return (camera - world_to_camera[..., None, :, 3]) @ world_to_camera[..., :3]


def pixel_rays(
    world_to_camera: torch.Tensor, affine: torch.Tensor, resolution: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The world ray of every pixel centre of (H, W) images: origins (..., H, W, 3) on each
    camera's plane z = 0 and the shared unit direction (..., 3) (its forward axis), so that depth
    is the distance along the ray."""
    h, w = resolution
    kw = dict(dtype=affine.dtype, device=affine.device)
    v, u = torch.meshgrid(torch.arange(h, **kw) + 0.5, torch.arange(w, **kw) + 0.5, indexing="ij")
    uv = torch.stack([u, v], -1).reshape(-1, 2)
    origins = unproject(uv.expand(*affine.shape[:-2], -1, 2), torch.zeros(uv.shape[:1], **kw), world_to_camera, affine)
    return origins.reshape(*affine.shape[:-2], h, w, 3), world_to_camera[..., 2, :3]
