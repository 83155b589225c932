"""Orthographic cameras, projection / unprojection and ground-truth correspondences.

Conventions are in docs/rendering.md: pixels (u right, v down, centres at i + 0.5), camera x right,
y down, z forward, u = s * x + cu, v = s * y + cv, depth = camera z.
"""

from pointkit.geometry.camera import (  # noqa: F401
    CAMERA_DISTANCE,
    DEFAULT_MARGIN,
    OrthoCamera,
    look_at_orbit,
    project,
    unproject,
)
from pointkit.geometry.correspondences import (  # noqa: F401
    all_pair_correspondences,
    gt_correspondences,
    object_pixels,
    visible_in,
)
