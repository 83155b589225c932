"""Local features and putative matches (OpenCV SIFT, kornia matching; no downloaded weights), and
:class:`SiftMatcher`, the built-in ``pointkit.matchers`` plugin ``pointkit match --matcher`` uses.

Coordinates follow the project's pixel convention (u right, v down, origin at the top-left corner
of the top-left pixel, pixel centres at i + 0.5). OpenCV puts pixel centres at integers, so its
keypoints are shifted by +0.5. All coordinates returned here are in the ORIGINAL image frame,
whatever downscaling ``max_size`` applied before detection.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pointkit.errors import PointkitError
from pointkit.imaging import load_image

FEATURE_KINDS = ("sift", "rootsift")


def read_image(path: str | Path) -> np.ndarray:
    """Read a photo as (H, W, 3) uint8 RGB, upright (EXIF), via :func:`pointkit.imaging.load_image`.

    Raises PointkitError for a missing, empty, truncated or non-image file."""
    return load_image(path).rgb


def read_mask(path: str | Path, shape: tuple[int, int]) -> np.ndarray:
    """Read a user mask (non-zero = object) as (H, W) bool; it must have the photo's size ``shape``."""
    m = load_image(path).rgb.any(-1)
    if m.shape != tuple(shape):
        raise PointkitError(f"{path}: mask is {m.shape[1]}x{m.shape[0]} but its photo is {shape[1]}x{shape[0]}")
    return m


@dataclass
class Features:
    """Keypoints of one image.

    ``uv`` (K, 2) float64 in the original frame; ``desc`` (K, D) float32 (SIFT: D = 128) or
    whatever the matcher that made them compares; ``scale`` (2,) the per-axis factor from the
    original frame to the (downscaled) frame the detector saw (pixel thresholds apply there).
    """

    uv: np.ndarray
    desc: np.ndarray
    scale: np.ndarray


def detect(
    rgb: np.ndarray,
    kind: str = "sift",
    max_size: int = 1024,
    max_features: int = 4000,
    mask: np.ndarray | None = None,
    contrast: float = 0.04,
) -> Features:
    """SIFT keypoints and descriptors of one photo.

    Args:
        rgb: (H, W, 3) uint8.
        kind: "sift" (OpenCV SIFT) or "rootsift" (the same, Hellinger-normalised: L1, sqrt).
        max_size: the photo is downscaled (area filter) so its longer side is at most this, first.
        max_features: keep the strongest this many keypoints (0 = all).
        mask: (H, W) bool or None; keypoints off the mask are dropped.
        contrast: SIFT's contrast threshold (OpenCV's default 0.04; lower keeps weaker extrema).
    """
    if kind not in FEATURE_KINDS:
        raise PointkitError(f"unknown features {kind!r}; use one of {', '.join(FEATURE_KINDS)}")
    h, w = rgb.shape[:2]
    s = min(1.0, max_size / max(h, w))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if s < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    sx, sy = gray.shape[1] / w, gray.shape[0] / h  # exact per-axis scale after rounding
    kps, desc = cv2.SIFT_create(nfeatures=max_features, contrastThreshold=contrast).detectAndCompute(gray, None)
    if desc is None or not kps:
        return Features(np.zeros((0, 2)), np.zeros((0, 128), np.float32), np.array([sx, sy]))
    uv = np.array([kp.pt for kp in kps], np.float64) + 0.5  # OpenCV centres at integers -> i + 0.5
    uv /= (sx, sy)
    if mask is not None:
        iu = np.clip(uv[:, 0].astype(int), 0, w - 1)
        iv = np.clip(uv[:, 1].astype(int), 0, h - 1)
        keep = mask[iv, iu]
        uv, desc = uv[keep], desc[keep]
    if kind == "rootsift":
        desc = np.sqrt(desc / np.maximum(desc.sum(axis=1, keepdims=True), 1e-12))
    return Features(uv, np.ascontiguousarray(desc, np.float32), np.array([sx, sy]))


def match_descriptors(a: np.ndarray, b: np.ndarray, ratio: float = 0.8) -> np.ndarray:
    """Mutual nearest neighbours that also pass Lowe's ratio test in both directions.

    kornia's ``match_smnn`` on CPU tensors: one L2 distance matrix serves both directions
    (about 3x faster than two OpenCV ``knnMatch`` calls walked in Python).

    Args:
        a: (Ka, D) float32 descriptors; b: (Kb, D).
        ratio: a match is kept when its distance < ratio * the second-nearest distance.

    Returns:
        (M, 2) int64 index pairs ``(i in a, j in b)``, sorted by i.
    """
    if len(a) < 2 or len(b) < 2:
        return np.zeros((0, 2), np.int64)
    import torch
    from kornia.feature import match_smnn

    with torch.inference_mode():
        _, idx = match_smnn(torch.from_numpy(np.ascontiguousarray(a)), torch.from_numpy(np.ascontiguousarray(b)), ratio)
    return idx.numpy().astype(np.int64).reshape(-1, 2)


class SiftMatcher:
    """The built-in matcher ``sift``: OpenCV SIFT (RootSIFT with ``features="rootsift"``) and mutual
    nearest neighbours with Lowe's ratio test.

    A ``pointkit.matchers`` plugin is a class like this one: built with the job's
    :class:`pointkit.match.MatchSettings` (its ``max_size``, ``max_features``, ``ratio`` ... are the
    user's options), with ``detect(rgb, mask) -> Features`` (``mask`` (H, W) bool or None: drop
    keypoints off it) and ``match(a, b) -> (M, 2) int64`` index pairs ``(i in a, j in b)``.
    """

    def __init__(self, settings):
        self.settings = settings

    def detect(self, rgb: np.ndarray, mask: np.ndarray | None = None) -> Features:
        s = self.settings
        return detect(rgb, s.features, s.max_size, s.max_features, mask, s.contrast)

    def match(self, a: Features, b: Features) -> np.ndarray:
        return match_descriptors(a.desc, b.desc, self.settings.ratio)
