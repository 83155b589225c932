r"""The rules that resolve LiftNet's depth, and ``--scale-from``'s units.

LiftNet's depth is defined only up to ``d -> a d + b u + c v + e`` (the loss cannot see more).
The rules, applied over the object mask, in order:

1. **No net tilt** (``b``, ``c``): subtract the tilt of the least-squares plane ``b u + c v + e``
   fitted to the depth over all object pixels (``plane="boundary"`` fits it over the silhouette
   pixels only; on ground truth the object fit distorts slightly less, benchmarks/lift.py).
2. **The object bulges toward the camera** (sign of ``a``): depth must decrease (come nearer)
   away from the silhouette, i.e. correlate negatively with the distance to the boundary.
3. **Depth extent from image size** (``|a|``): the 2-98 % depth range equals
   ``BULGE * depth_scale * sqrt(area / pi)`` pixels (a sphere's visible half has exactly its
   radius; ``BULGE`` is the median ratio measured on rendered sculptures, benchmarks/lift.py).

Then ``e``: the nearest object point is at depth 1. Units of the resolved depth: the image's
longer side = 1 (so a depth of 1 is one image width in front of the object's nearest point).
"""

from __future__ import annotations

import numpy as np

from pointkit.errors import PointkitError
from pointkit.masks import inside_distance

BULGE = 1.0
"""Visible depth extent (2-98 % range) / equivalent radius sqrt(area / pi) of the object's image:
1 for a sphere; the median over 60 test-split views of procedural sculptures is 1.03
(benchmarks/lift.py rules)."""
SCALE_KEYS = ("height", "width")


def boundary(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool object pixels with a background (or out-of-image) 4-neighbour."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def resolve_depth(
    raw: np.ndarray, mask: np.ndarray, depth_scale: float = 1.0, plane: str = "object", bulge: float = BULGE
) -> tuple[np.ndarray, dict[str, float]]:
    """Apply the module's three rules to a raw depth map.

    Args:
        raw: (H, W) depth up to ``a d + b u + c v + e``.
        mask: (H, W) bool object pixels (at least a few).
        depth_scale: multiplies the depth extent of rule 3.
        plane: ``"boundary"`` or ``"object"``: the pixels the tilt plane of rule 1 is fitted to.
        bulge: rule 3's extent / equivalent radius.

    Returns:
        depth (H, W) float32 (units: longer image side; nearest object point at 1; 0 off the
        object) and the rule values ``{"sign", "tilt_u", "tilt_v", "scale"}`` (tilts in raw
        depth per pixel, scale from raw to output units).
    """
    if plane not in ("boundary", "object"):
        raise ValueError(f"plane must be 'boundary' or 'object', got {plane!r}")
    H, W = raw.shape
    fit = boundary(mask) if plane == "boundary" else mask
    if fit.sum() < 3:
        fit = mask
    # Pixel centres of the object pixels only: full-image coordinate grids cost 200 MB at 12 Mpixel.
    fv, fu = np.nonzero(fit)
    A = np.stack([fu + 0.5, fv + 0.5, np.ones(len(fu))], 1)
    coef = np.linalg.lstsq(A, raw[fit].astype(np.float64), rcond=None)[0]
    mv, mu = np.nonzero(mask)
    dm = raw[mask].astype(np.float64) - coef[0] * (mu + 0.5) - coef[1] * (mv + 0.5)
    im = inside_distance(mask)[mask]
    sign = -1.0 if np.mean((dm - dm.mean()) * (im - im.mean())) > 0 else 1.0
    dm = sign * dm
    lo, hi = np.percentile(dm, [2, 98])
    target = bulge * float(depth_scale) * np.sqrt(mask.sum() / np.pi) / max(H, W)
    scale = target / (hi - lo) if hi - lo > 1e-9 else 0.0
    dm = dm * scale
    out = np.zeros((H, W), np.float32)
    out[mask] = dm - dm.min() + 1.0
    return out, {"sign": sign, "tilt_u": float(coef[0]), "tilt_v": float(coef[1]), "scale": float(sign * scale)}


def parse_scale_from(spec: str) -> tuple[str, float]:
    """``"height=0.42"`` -> ("height", 0.42): the object's real height (or width) in metres.

    Raises:
        PointkitError: another key, or a size that is not a positive number.
    """
    key, sep, value = str(spec).partition("=")
    try:
        metres = float(value)
    except ValueError:
        metres = float("nan")
    if not sep or key.strip() not in SCALE_KEYS or not np.isfinite(metres) or metres <= 0:
        raise PointkitError(
            f"--scale-from {spec!r}: use height=METRES or width=METRES (the object's real size, e.g. height=0.42)"
        )
    return key.strip(), metres


def metres_per_unit(spec: str, mask: np.ndarray) -> float:
    """Metres per mesh unit (the image's longer side) that make the (H, W) bool mask's height (or
    width) span the size ``spec`` gives (``parse_scale_from``)."""
    key, metres = parse_scale_from(spec)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    extent = (rows[-1] - rows[0] + 1) if key == "height" else (cols[-1] - cols[0] + 1)
    return metres * max(mask.shape) / float(extent)
