"""Orthographic cameras on a view sphere for the numpy renderers: :class:`OrthoCamera`, one
camera with numpy arrays, and numpy forms of projection and unprojection.

The geometry itself is :mod:`pointkit.geometry.ortho` (torch, batched), which the torch engine
uses directly; these functions call it in float64 and convert, so both renderers share one
implementation. Conventions (docs/rendering.md): world frame right-handed with +Y up; camera x
right, y down, z forward. A camera at azimuth ``a`` and elevation ``e`` (degrees) sits at
``distance * (sin a cos e, sin e, cos a cos e)`` and looks at the origin, so (0, 0) looks along
-Z with +X to the right of the image. Pixels are (u, v), u right, v down, pixel centres at
i + 0.5; ``u = s * x + cu, v = s * y + cv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pointkit.errors import PointkitError
from pointkit.geometry import ortho
from pointkit.geometry.ortho import CAMERA_DISTANCE, DEFAULT_MARGIN

__all__ = ["CAMERA_DISTANCE", "DEFAULT_MARGIN", "OrthoCamera", "look_at_orbit", "pixel_map", "project", "unproject"]


def float64_tensor(array) -> torch.Tensor:
    """An array (or list, or scalar) as a float64 torch tensor: how the numpy face calls the torch core."""
    return torch.as_tensor(np.asarray(array, np.float64))


def look_at_orbit(azimuth: float, elevation: float, distance: float = CAMERA_DISTANCE) -> np.ndarray:
    """World -> camera [R | t] of a camera on the view sphere looking at the origin.

    Args:
        azimuth: degrees about the world +Y axis (0 looks along -Z).
        elevation: degrees above the XZ plane, in (-90, 90) (positive looks down at the object).
        distance: distance of the camera centre from the origin.

    Returns:
        (3, 4) float64: rows of R are the camera x (right), y (down), z (forward) axes in world.

    >>> T = look_at_orbit(0.0, 0.0)
    >>> (T @ np.array([0.0, 0.0, 0.0, 1.0])).tolist()  # the origin is straight ahead at depth 2
    [0.0, 0.0, 2.0]
    """
    if not -90.0 < elevation < 90.0:
        raise PointkitError(f"elevation {elevation} must be strictly between -90 and 90 degrees")
    return ortho.orbit_pose(float64_tensor(azimuth), float64_tensor(elevation), distance).numpy()


@dataclass(frozen=True)
class OrthoCamera:
    """An orthographic camera: world -> camera pose plus the pixel scale and principal point.

    Attributes:
        world_to_camera: (3, 4) float64 [R | t].
        scale: pixels per world unit (s).
        centre: (cu, cv) principal point in pixels.
        resolution: (H, W) of the image.
    """

    world_to_camera: np.ndarray
    scale: float
    centre: tuple[float, float]
    resolution: tuple[int, int]

    @classmethod
    def orbit(
        cls,
        azimuth: float,
        elevation: float,
        resolution: int,
        margin: float = DEFAULT_MARGIN,
        distance: float = CAMERA_DISTANCE,
    ) -> "OrthoCamera":
        """A square R x R camera on the view sphere that frames the unit sphere with ``margin``."""
        if resolution < 2:
            raise PointkitError(f"resolution {resolution} is too small; use at least 2 pixels")
        half = resolution / 2.0
        return cls(
            look_at_orbit(azimuth, elevation, distance),
            ortho.orbit_scale(resolution, margin),
            (half, half),
            (resolution, resolution),
        )

    @property
    def affine(self) -> np.ndarray:
        """(2, 4) float64 world -> pixel matrix: uv = affine @ [X, Y, Z, 1]."""
        return ortho.ortho_affine(float64_tensor(self.world_to_camera), self.scale, self.centre).numpy()

    def pixel_rays(self) -> tuple[np.ndarray, np.ndarray]:
        """World ray of every pixel centre: origins (H, W, 3) on the camera plane z = 0, and the
        shared unit direction (3,) (the camera's forward axis); depth = distance along the ray."""
        origins, direction = ortho.pixel_rays(
            float64_tensor(self.world_to_camera), float64_tensor(self.affine), self.resolution
        )
        return origins.numpy(), direction.numpy()


def pixel_map(world_to_camera: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 2x2 pixel map M and offset c with uv = M @ (x, y)_camera + c of a view's
    world_to_camera (3, 4) and affine (2, 4) (any affine camera); float64."""
    m, c = ortho.pixel_map(float64_tensor(world_to_camera), float64_tensor(affine))
    return m.numpy(), c.numpy()


def project(points: np.ndarray, world_to_camera: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points: (N, 3) -> pixel uv (N, 2) and camera depth z (N,), float64."""
    uv, z = ortho.project(float64_tensor(points), float64_tensor(world_to_camera), float64_tensor(affine))
    return uv.numpy(), z.numpy()


def unproject(uv: np.ndarray, depth: np.ndarray, world_to_camera: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World points (N, 3) float64 of pixels ``uv`` (N, 2) with camera depth ``depth`` (N,)."""
    return ortho.unproject(
        float64_tensor(uv), float64_tensor(depth), float64_tensor(world_to_camera), float64_tensor(affine)
    ).numpy()
