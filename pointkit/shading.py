"""The shading core in torch, shared by both renderers: SH environment light, triplanar texture
mapping and octave value noise.

The fast renderer's photo style (``pointkit.render.appearance``, numpy) calls these on float64 /
float32 arrays and converts; the engine (``pointkit.engine``) calls them on its device. Every
function takes any leading batch shape ``...``.

SH lighting follows Ramamoorthi & Hanrahan 2001: the radiance of an environment as 9 real
spherical-harmonic coefficients (l <= 2) and the irradiance ``E(n) = sum_lm A_l L_lm Y_lm(n)``,
so a constant radiance L gives pi L.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SH_COSINE_LOBE = (math.pi,) + (2 * math.pi / 3,) * 3 + (math.pi / 4,) * 5
"""A_l of the 9 coefficients: the cosine lobe's convolution weights of bands 0, 1, 2."""


def sh_basis(directions: torch.Tensor) -> torch.Tensor:
    """The 9 real SH basis functions (..., 9) of unit directions (..., 3)."""
    x, y, z = directions.unbind(-1)
    return torch.stack(
        [
            torch.full_like(x, 0.282095),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3 * z * z - 1),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        -1,
    )


def equirect_directions(height: int, width: int, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Unit directions (H, W, 3) of equirect pixel centres (top row = +Y, the up axis) and their
    solid angles (H, W)."""
    theta = math.pi * (torch.arange(height, dtype=dtype) + 0.5) / height
    phi = 2 * math.pi * (torch.arange(width, dtype=dtype) + 0.5) / width
    t, p = torch.meshgrid(theta, phi, indexing="ij")
    d = torch.stack([torch.sin(t) * torch.sin(p), torch.cos(t), torch.sin(t) * torch.cos(p)], -1)
    return d, torch.sin(t) * (math.pi / height) * (2 * math.pi / width)


def sh_coefficients(environment: torch.Tensor) -> torch.Tensor:
    """Radiance SH coefficients (..., 9, C) of equirect maps (..., H, W, C) of linear radiance."""
    d, solid_angle = equirect_directions(*environment.shape[-3:-1], dtype=environment.dtype)
    basis = (sh_basis(d) * solid_angle[..., None]).reshape(-1, 9)
    return basis.T @ environment.flatten(-3, -2)


def sh_irradiance(sh: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Irradiance (..., N, C) at unit normals (..., N, 3) of radiance SH (..., 9, C), clamped at 0."""
    lobe = torch.tensor(SH_COSINE_LOBE, dtype=sh.dtype, device=sh.device)[:, None]
    return (sh_basis(normals) @ (sh * lobe)).clamp(min=0)


def triplanar(textures: torch.Tensor, points: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Colours (B, N, C) of tiling textures (B, C, h, w) (float) projected along the three world
    axes at ``points`` (B, N, 3), one tile per world unit, blended by |n|^4 of ``normals`` (B, N, 3).

    Texel (i, j) is centred at ((j + 0.5) / w, (i + 0.5) / h) of the tile, and bilinear sampling
    wraps across the tile's edges (the texture is padded circularly by one texel).
    """
    h, w = textures.shape[-2:]
    padded = F.pad(textures, (1, 1, 1, 1), mode="circular")
    size = torch.tensor([w, h], dtype=points.dtype, device=points.device)
    weights = normals.abs() ** 4
    weights = weights / weights.sum(-1, keepdim=True).clamp(min=1e-12)
    out = 0
    for axis, (a, b) in enumerate(((1, 2), (0, 2), (0, 1))):
        texel = torch.frac(torch.frac(torch.stack([points[..., a], points[..., b]], -1)) + 1.0) * size + 0.5
        grid = (texel / (size + 1) * 2 - 1)[:, None]  # (B, 1, N, 2) in the padded texture's corners
        sample = F.grid_sample(padded.to(points.dtype), grid, mode="bilinear", align_corners=True)
        out = out + sample[:, :, 0].transpose(1, 2) * weights[..., axis : axis + 1]
    return out


def octave_noise(lattices: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
    """Value noise (n, C, H, W): the sum of random lattices (n, C, k, k), each upsampled bicubically
    to ``size`` (lattice corners on the image corners), at amplitudes 1, 1/2, 1/4, ..."""
    return sum(
        0.5**i * F.interpolate(lattice, size=size, mode="bicubic", align_corners=True)
        for i, lattice in enumerate(lattices)
    )
