"""View presets of the paper (§5.1): which (azimuth, elevation) views each object gets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pointkit.errors import PointkitError


@dataclass(frozen=True)
class Preset:
    """Views of one object: ``num_views`` azimuths in [azimuth_min, azimuth_max] and elevations in
    [elevation_min, elevation_max] degrees. ``random`` False spaces azimuths evenly (both ends
    included) at the middle elevation; True draws both uniformly from the object's seed."""

    name: str
    num_views: int
    azimuth: tuple[float, float]
    elevation: tuple[float, float]
    random: bool


PRESETS = {
    "sketchfab": Preset("sketchfab", 5, (0.0, 120.0), (0.0, 0.0), random=False),
    "shapenet": Preset("shapenet", 10, (0.0, 360.0), (-45.0, 45.0), random=True),
    # Not in the paper: how people photograph a sculpture -- walking part of the way round it, from
    # slightly below to above eye level. Pairs stay close enough to share many points.
    "turntable": Preset("turntable", 6, (0.0, 120.0), (-10.0, 30.0), random=True),
}


def preset_views(preset: str, num_views: int | None = None, seed: int = 0) -> list[tuple[float, float]]:
    """(azimuth, elevation) degrees of one object's views.

    Args:
        preset: "sketchfab" (5 views, azimuth evenly in [0, 120], elevation 0), "shapenet"
            (10 views, azimuth uniform in [0, 360), elevation uniform in [-45, 45]) or "turntable"
            (6 views, azimuth uniform in [0, 120], elevation uniform in [-10, 30]).
        num_views: overrides the preset's number of views.
        seed: the object's seed (random presets only).

    >>> preset_views("sketchfab")
    [(0.0, 0.0), (30.0, 0.0), (60.0, 0.0), (90.0, 0.0), (120.0, 0.0)]
    """
    if preset not in PRESETS:
        raise PointkitError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    k = p.num_views if num_views is None else int(num_views)
    if k < 1:
        raise PointkitError(f"--views {k}: need at least one view (two for correspondences)")
    if p.random:
        rng = np.random.default_rng(seed)
        azimuth = rng.uniform(*p.azimuth, k)
        elevation = rng.uniform(*p.elevation, k)
    else:
        azimuth = np.linspace(*p.azimuth, k) if k > 1 else np.array([p.azimuth[0]])
        elevation = np.full(k, (p.elevation[0] + p.elevation[1]) / 2)
    return [(round(float(a), 6), round(float(e), 6)) for a, e in zip(azimuth, elevation)]
