"""Ground-truth correspondences between two views with known depth and cameras."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch

from pointkit.geometry import ortho
from pointkit.geometry.camera import float64_tensor, unproject


class ViewLike(Protocol):
    """Anything with a view's depth, mask and cameras (a rendered view or a dataset record's view)."""

    depth: np.ndarray  # (H, W) float32 camera z, 0 off the object
    mask: np.ndarray  # (H, W) bool
    world_to_camera: np.ndarray  # (3, 4)
    affine: np.ndarray  # (2, 4) world -> pixel


def object_pixels(view: ViewLike) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres (N, 2) float64 of a view's object pixels and their world points (N, 3)."""
    v, u = np.nonzero(view.mask)
    uv = np.stack([u, v], 1) + 0.5
    return uv, unproject(uv, view.depth[v, u], view.world_to_camera, view.affine)


def visible_in(
    points: np.ndarray, view: ViewLike, depth_tolerance: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Which world points are seen by ``view``, and where: :func:`pointkit.geometry.ortho.visible`
    in float64 (inside the image, on an object pixel, camera z within ``depth_tolerance`` of the
    view's depth there, bilinear between the 2 x 2 pixel centres around it).

    Args:
        points: (N, 3) world points.
        view: the target view.
        depth_tolerance: world units (default: two pixel widths).

    Returns:
        keep (N,) bool and uv (N, 2) float64 pixel coordinates of all points in ``view``.
    """
    w2c, affine = float64_tensor(view.world_to_camera), float64_tensor(view.affine)
    if depth_tolerance is None:
        depth_tolerance = 2.0 * float(ortho.pixel_width(w2c, affine))
    keep, uv = ortho.visible(
        float64_tensor(points),
        float64_tensor(view.depth),
        torch.as_tensor(np.asarray(view.mask, bool)),
        w2c,
        affine,
        depth_tolerance,
    )
    return keep.numpy(), uv.numpy()


def gt_correspondences(
    view_a: ViewLike,
    view_b: ViewLike,
    max_points: int | None = None,
    seed: int = 0,
    depth_tolerance: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Ground-truth correspondences from ``view_a`` to ``view_b``.

    Every object pixel centre of ``view_a`` is lifted with its depth to a world point, projected
    into ``view_b`` and kept when visible there (see ``visible_in``: inside the image, on the
    object, passes the depth test).

    Args:
        view_a, view_b: views with ``depth`` (H, W), ``mask`` (H, W), ``world_to_camera`` (3, 4)
            and ``affine`` (2, 4).
        max_points: keep at most this many, a seeded random subset (in source pixel order);
            None, 0 or a negative number keeps all.
        seed: seed of the subset.
        depth_tolerance: world units for the visibility test (default two pixel widths).

    Returns:
        uv_a, uv_b: (N, 2) float32 pixel coordinates (u right, v down, centres at i + 0.5).
    """
    uv_a, points = object_pixels(view_a)
    keep, uv_b = visible_in(points, view_b, depth_tolerance)
    index = _subset(np.flatnonzero(keep), max_points, seed)
    return uv_a[index].astype(np.float32), uv_b[index].astype(np.float32)


def _subset(index: np.ndarray, max_points: int | None, seed: int) -> np.ndarray:
    if max_points is not None and 0 < max_points < len(index):
        index = np.sort(np.random.default_rng(seed).choice(index, max_points, replace=False))
    return index


def all_pair_correspondences(
    views: Sequence[ViewLike], max_points: int | None = None, seed: int = 0, depth_tolerance: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``gt_correspondences`` for every ordered pair (a, b), a != b, in the dataset layout.

    Pair p = (a, b) uses the subset seed ``seed + p``, so the result equals
    ``gt_correspondences(views[a], views[b], max_points, seed + p)``.

    Returns:
        pairs (P, 2) int32, pair_offsets (P + 1,) int64, uv_src (M, 2) float32, uv_tgt (M, 2)
        float32, with the correspondences of pair p at rows [pair_offsets[p], pair_offsets[p + 1]).
    """
    lifted = [object_pixels(v) for v in views]
    pairs, src, tgt = [], [], []
    for a, (uv_a, points) in enumerate(lifted):
        for b, view_b in enumerate(views):
            if a == b:
                continue
            keep, uv_b = visible_in(points, view_b, depth_tolerance)
            index = _subset(np.flatnonzero(keep), max_points, seed + len(pairs))
            pairs.append((a, b))
            src.append(uv_a[index].astype(np.float32))
            tgt.append(uv_b[index].astype(np.float32))
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in src])]).astype(np.int64)
    empty = np.zeros((0, 2), np.float32)
    return (
        np.asarray(pairs, np.int32).reshape(-1, 2),
        offsets,
        np.concatenate(src) if src else empty,
        np.concatenate(tgt) if tgt else empty,
    )
