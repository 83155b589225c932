"""Memory bounds by estimate: a job's peak memory from the sizes of the arrays it will allocate,
checked against a limit before anything is allocated.

The formulas, in bytes (constants calibrated against the peak RSS of real runs; the measurements
are in docs/reliability.md):

- every pointkit process: ``PROCESS_BYTES`` (Python with numpy, open3d and trimesh loaded);
- ``render-synthetic``, per worker process (one object at a time) with V views of R x R:
  ``PROCESS_BYTES + PIXEL_BYTES * V R^2 + RENDER_FRAME_BYTES * R^2 + CORR_BYTES * V (V - 1) K``, where
  ``K`` = correspondences per ordered view pair: ``--max-corr``, at most ``OBJECT_SHARE * R^2``
  (all of them with ``--max-corr 0``); the parent process is added when there are 2+ workers;
- ``view`` of a mesh of F faces as V frames of S x S:
  ``PROCESS_BYTES + FACE_BYTES * F + PIXEL_BYTES * V S^2 + VIEW_FRAME_BYTES * S^2``.

- ``lift`` of an H x W image: ``LIFT_BASE_BYTES + LIFT_PIXEL_BYTES * H W`` (torch and the model
  loaded; the photo-resolution maps, the mask, the rules and the texture encoded in the mesh file).

``PIXEL_BYTES`` is what every pixel of every view holds at the peak (its float32 ray, open3d's hit
arrays and their numpy copies); ``*_FRAME_BYTES`` what the one view being shaded holds besides.
The limit is ``--max-memory-gb`` (environment ``POINTKIT_MAX_MEMORY_GB``), by default
``DEFAULT_FRACTION`` of the machine's physical memory.
"""

from __future__ import annotations

import os

from pointkit.errors import PointkitError

GB = 1024**3
DEFAULT_FRACTION = 0.75
FLAG = "--max-memory-gb"
ENV = "POINTKIT_MAX_MEMORY_GB"

PROCESS_BYTES = 200 * 1024**2  # measured: 183 MiB for a 16 x 16 render or view
PIXEL_BYTES = 60  # measured: 57 bytes a pixel (10 x 1024^2 and 4 x 2048^2 renders)
RENDER_FRAME_BYTES = 120  # working images of the one view being shaded (photo style: 116 measured)
VIEW_FRAME_BYTES = 40  # view's float64 frame being shaded
CORR_BYTES = 40  # measured: 35 bytes a stored correspondence (lists, concatenation, npz)
FACE_BYTES = 200
OBJECT_SHARE = 0.25
LIFT_BASE_BYTES = 400 * 1024**2  # lift --format glb at 3, 12 and 47 Mpixel, torch loaded (docs/reliability.md)
LIFT_PIXEL_BYTES = 45
"""Correspondences of an uncapped view pair as a share of R^2: objects cover 23% of a view
(median of 120 procedural sculptures; 40% at the 90th percentile) and about 2/3 of that is seen
in the other view. An object filling the frame (a sphere: 71%) has up to twice as many."""


def machine_memory_gb() -> float:
    """Physical memory of this machine in GB (os.sysconf; 16 GB where it cannot be read)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB
    except (AttributeError, ValueError, OSError):
        return 16.0


def default_limit_gb() -> float:
    """The limit when none is given: ``DEFAULT_FRACTION`` of the machine's physical memory."""
    return round(DEFAULT_FRACTION * machine_memory_gb(), 1)


def check_memory(estimate: float, what: str, limit_gb: float | None = None) -> None:
    """Refuse a job whose estimated peak memory (``estimate`` bytes) is over ``limit_gb``.

    Args:
        estimate: bytes, from one of the ``*_bytes`` functions here.
        what: the job in words for the message ("render-synthetic --views 1000 --resolution 256").
        limit_gb: the limit (default ``default_limit_gb()``).

    Raises:
        PointkitError: one line naming the job, the estimate in GB, the limit and the flag.
    """
    limit = default_limit_gb() if limit_gb is None else float(limit_gb)
    if estimate > limit * GB:
        raise PointkitError(
            f"{what} is too big: it needs about {estimate / GB:,.1f} GB of memory by estimate, "
            f"over the limit of {limit:g} GB; make it smaller, or raise the limit with {FLAG}"
        )


def render_object_bytes(views: int, resolution: int, max_corr: int) -> float:
    """Peak bytes of one process rendering one object: ``views`` views of ``resolution``^2 pixels
    and the correspondences of every ordered view pair (``max_corr`` <= 0: all of them)."""
    pixels = float(resolution) ** 2
    per_pair = OBJECT_SHARE * pixels if max_corr <= 0 else min(OBJECT_SHARE * pixels, float(max_corr))
    return (
        PROCESS_BYTES
        + PIXEL_BYTES * views * pixels
        + RENDER_FRAME_BYTES * pixels
        + CORR_BYTES * views * (views - 1.0) * per_pair
    )


def render_job_bytes(views: int, resolution: int, max_corr: int, workers: int = 1) -> float:
    """Peak bytes of a ``render-synthetic`` job: each of ``workers`` processes renders one object
    at a time (``render_object_bytes``); with more than one, the parent process is counted too."""
    parent = PROCESS_BYTES if workers > 1 else 0.0
    return parent + workers * render_object_bytes(views, resolution, max_corr)


def view_bytes(views: int, size: int, faces: int) -> float:
    """Peak bytes of ``pointkit view``: a mesh of ``faces`` triangles ray cast into ``views``
    frames of ``size``^2 pixels."""
    pixels = float(size) ** 2
    return PROCESS_BYTES + FACE_BYTES * float(faces) + PIXEL_BYTES * views * pixels + VIEW_FRAME_BYTES * pixels


def lift_bytes(height: int, width: int) -> float:
    """Peak bytes of ``pointkit lift`` on one ``height`` x ``width`` image."""
    return LIFT_BASE_BYTES + LIFT_PIXEL_BYTES * float(height) * float(width)
