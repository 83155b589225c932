"""Orthographic cameras on a view sphere, projection and unprojection.

Conventions (docs/rendering.md): world frame is right-handed with +Y up (the OBJ / glTF habit of
most scans). The camera frame is x right, y down, z forward (away from the camera). A camera at
azimuth ``a`` and elevation ``e`` (degrees) sits at ``distance * (sin a cos e, sin e, cos a cos e)``
and looks at the origin, so (0, 0) looks along -Z with +X to the right of the image.

Pixels are (u, v), u right, v down, origin at the top-left corner of the top-left pixel, pixel
centres at i + 0.5. Orthographic projection: u = s * x + cu, v = s * y + cv. With the default
margin the unit sphere fills the image up to ``margin`` (a fraction of the half width) of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointkit.errors import PointkitError

CAMERA_DISTANCE = 2.0
"""Distance from the origin to every camera; object depth (camera z) lies in [1, 3]."""
DEFAULT_MARGIN = 0.05
"""The unit sphere's image has radius (R / 2) / (1 + margin) pixels for an R x R image."""


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
    a, e = np.radians(azimuth), np.radians(elevation)
    centre = distance * np.array([np.sin(a) * np.cos(e), np.sin(e), np.cos(a) * np.cos(e)])
    z = -centre / np.linalg.norm(centre)
    x = np.cross(z, [0.0, 1.0, 0.0])
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    rotation = np.stack([x, y, z])
    out = np.empty((3, 4))
    out[:, :3] = rotation
    out[:, 3] = -rotation @ centre
    return out


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
            look_at_orbit(azimuth, elevation, distance), half / (1.0 + margin), (half, half), (resolution, resolution)
        )

    @property
    def affine(self) -> np.ndarray:
        """(2, 4) float64 world -> pixel matrix: uv = affine @ [X, Y, Z, 1]."""
        k = np.array([[self.scale, 0.0, self.centre[0]], [0.0, self.scale, self.centre[1]]])
        return k @ np.vstack([self.world_to_camera, [0.0, 0.0, 0.0, 1.0]])[[0, 1, 3]]

    def pixel_rays(self) -> tuple[np.ndarray, np.ndarray]:
        """World ray of every pixel centre: origins (H, W, 3) on the camera plane z = 0, and the
        shared unit direction (3,) (the camera's forward axis); depth = distance along the ray."""
        h, w = self.resolution
        v, u = np.mgrid[0:h, 0:w] + 0.5
        xy = np.stack([(u - self.centre[0]) / self.scale, (v - self.centre[1]) / self.scale], -1)
        rotation, t = self.world_to_camera[:, :3], self.world_to_camera[:, 3]
        cam = np.concatenate([xy, np.zeros((h, w, 1))], -1)
        return (cam - t) @ rotation, rotation[2].copy()


def _intrinsics(world_to_camera: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Recover the 2x2 pixel map M and offset c with uv = M @ (x, y)_camera + c from a view's
    world_to_camera and affine (affine = [M | c] @ [R_xy | t_xy]); works for any affine camera."""
    rotation_xy, t_xy = world_to_camera[:2, :3], world_to_camera[:2, 3]
    m = affine[:, :3] @ rotation_xy.T
    return m, affine[:, 3] - m @ t_xy


def project(points: np.ndarray, world_to_camera: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project world points: (N, 3) -> pixel uv (N, 2) and camera depth z (N,), float64."""
    points = np.asarray(points, np.float64)
    uv = points @ affine[:, :3].T + affine[:, 3]
    z = points @ world_to_camera[2, :3] + world_to_camera[2, 3]
    return uv, z


def unproject(uv: np.ndarray, depth: np.ndarray, world_to_camera: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """World points (N, 3) float64 of pixels ``uv`` (N, 2) with camera depth ``depth`` (N,)."""
    m, c = _intrinsics(np.asarray(world_to_camera, np.float64), np.asarray(affine, np.float64))
    xy = (np.asarray(uv, np.float64) - c) @ np.linalg.inv(m).T
    cam = np.concatenate([xy, np.asarray(depth, np.float64)[:, None]], 1)
    rotation, t = world_to_camera[:, :3], world_to_camera[:, 3]
    return (cam - t) @ rotation
