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


def pixel_width(world_to_camera: torch.Tensor, affine: torch.Tensor) -> torch.Tensor:
    """World units per pixel (...) of affine cameras: 1 / sqrt(|det M|) of their pixel map."""
    m, _ = pixel_map(world_to_camera, affine)
    return torch.linalg.det(m).abs().rsqrt()


def visible(
    points: torch.Tensor,
    depth: torch.Tensor,
    mask: torch.Tensor,
    world_to_camera: torch.Tensor,
    affine: torch.Tensor,
    tolerance: torch.Tensor | float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which world points a view with known depth sees, and where: the ground-truth test of every
    correspondence pointkit makes (the numpy datasets and the torch engine).

    A point is visible when it projects inside the image onto an object pixel and its camera z is
    within ``tolerance`` of the view's depth there: of the bilinear interpolation of the 2 x 2 pixel
    centres around it when all four are on the object (exact on a plane however steep, and it
    splits an inner occlusion edge, so points just behind one are dropped), else of the range of
    those that are (``min - tolerance <= z <= max + tolerance``; at the silhouette). The test is
    two-sided: it drops points behind the surface (occluded) and in front of it (a source depth
    that is off, as sphere tracing gives on thin parts).

    Args:
        points: (..., N, 3) world points.
        depth: (..., H, W) camera z of the view; mask: (..., H, W) bool, its object pixels.
        world_to_camera: (..., 3, 4); affine: (..., 2, 4) world -> pixel.
        tolerance: world units, a float or (...).

    Returns:
        keep (..., N) bool and uv (..., N, 2) pixel coordinates of all points in the view.
    """
    h, w = mask.shape[-2:]
    uv, z = project(points, world_to_camera, affine)
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    flat_depth, flat_mask = depth.flatten(-2), mask.flatten(-2)

    def at(u: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        index = v.clamp(0, h - 1) * w + u.clamp(0, w - 1)
        return flat_depth.gather(-1, index), flat_mask.gather(-1, index)

    _, on = at(uv[..., 0].floor().long(), uv[..., 1].floor().long())
    u0 = (uv[..., 0] - 0.5).floor().long().clamp(0, w - 1)
    v0 = (uv[..., 1] - 0.5).floor().long().clamp(0, h - 1)
    u1, v1 = (u0 + 1).clamp(max=w - 1), (v0 + 1).clamp(max=h - 1)
    d, m = zip(*(at(u, v) for u, v in ((u0, v0), (u1, v0), (u0, v1), (u1, v1))))
    d, m = torch.stack(d), torch.stack(m)
    far = torch.where(m, d, -torch.inf).amax(0)
    near = torch.where(m, d, torch.inf).amin(0)
    # Bilinear weights of the 4 centres (clamped at the border, where a centre repeats).
    fu = (uv[..., 0] - 0.5 - u0).clamp(0, 1)
    fv = (uv[..., 1] - 0.5 - v0).clamp(0, 1)
    bilinear = (d[0] * (1 - fu) + d[1] * fu) * (1 - fv) + (d[2] * (1 - fu) + d[3] * fu) * fv
    tolerance = torch.as_tensor(tolerance, dtype=z.dtype, device=z.device)
    if tolerance.ndim:
        tolerance = tolerance[..., None]  # one per view, over its N points
    in_range = (z >= near - tolerance) & (z <= far + tolerance)
    keep = inside & on & torch.where(m.all(0), (z - bilinear).abs() <= tolerance, in_range)
    return keep, uv
