r"""Scoring ``pointkit lift`` on photographic renders of real scans it may never train on
(benchmarks/real_scans.py; issue 10's "real-scan test").

The ten scans of ``../shared/data/meshes/scans`` whose licences do not allow shipping a model
trained on them (:data:`TEST_SCANS`) are rendered by the fast renderer's photo style
(materials, HDRI light, shadows, camera effects) over **backgrounds held out from training**
(``backgrounds="test"``), one set of views per background type (:data:`BACKGROUND_TYPES`: black
and white cloth, rooms, outdoors). Each view goes through :func:`pointkit.lift` as a user's photo
would, with lift's own mask, and is scored against the exact ray-cast depth:

* ``iou``: lift's mask against the true mask;
* depth RMSE over the **true** mask after ``ls`` (scale + shift) and ``affine`` (+ planar shear)
  alignment (:func:`pointkit.metrics.depth_metrics`) of lift's canonical network depth
  (``LiftResult.raw``, zero median on its mask), with pixels off lift's mask counted as depth 0,
  so a mask that misses the object costs depth error too;
* the same for the **flat** baseline (a constant) and the **silhouette heuristic** on the true
  mask (:func:`pointkit.masks.silhouette_heuristic`), the bars every model must clear.

Ratios are of mean RMSEs over a background type's views: ``model / flat`` and
``model / heuristic`` (below 1 = better).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from tqdm import tqdm

from pointkit.errors import PointkitError
from pointkit.io import write_npz_atomic
from pointkit.lifting.pipeline import lift
from pointkit.masks import silhouette_heuristic
from pointkit.metrics import depth_metrics
from pointkit.render.views import get_renderer, render_views

SCANS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "meshes" / "scans"
"""Default folder of the scans (``../shared/data/meshes/scans`` beside the repository)."""
TEST_SCANS = (
    "armadillo.obj",
    "camelhead.off",
    "dinosaur.off",
    "duck.off",
    "elephant.obj",
    "face000.ply",
    "horse.ply",
    "pepper.ply",
    "stanford-bunny.obj",
    "tigerfighter_decimated.obj",
)
"""Scans no shipped model may train on (research-only, unstated or GPL licences): test only."""
BACKGROUND_TYPES = {
    "black": "black_cloth",
    "white": "white_cloth",
    "rooms": "photo:hdriview_[bds]*",
    "outdoors": "photo:humus_*",
}
"""Background type -> the fast renderer's ``background`` option. Rooms are the held-out studio,
cellar and interior views; outdoors the held-out Humus cube-map photos (CC BY 3.0)."""
VIEWS = ((20.0, 10.0), (140.0, 5.0), (260.0, 15.0))
"""(azimuth, elevation) of each scan's views per background type."""
MODES = ("ls", "affine")


@dataclass
class ScanView:
    """One test image: (R, R, 3) uint8 ``image``, exact (R, R) ``depth`` and ``mask``, its scan and
    background type."""

    image: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    scan: str
    background: str


def render_test_views(
    scans: str | Path | None = None,
    resolution: int = 256,
    seed: int = 0,
    types: Sequence[str] = tuple(BACKGROUND_TYPES),
    names: Sequence[str] = TEST_SCANS,
    progress: bool = False,
) -> list[ScanView]:
    """Render every test scan from :data:`VIEWS` over each background type (photo style, test
    backgrounds). Same arguments, same images.

    Raises:
        PointkitError: the scans folder or a scan is missing, or an unknown background type.
    """
    root = Path(scans) if scans is not None else SCANS
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise PointkitError(f"{root}: test scans missing ({', '.join(missing)}); pass the scans folder")
    unknown = [t for t in types if t not in BACKGROUND_TYPES]
    if unknown:
        raise PointkitError(f"unknown background type {unknown[0]!r}: use {', '.join(BACKGROUND_TYPES)}")
    out = []
    jobs = [(n, t) for n in names for t in types]
    for k, (name, kind) in enumerate(tqdm(jobs, desc="render test scans", unit="set", disable=not progress)):
        renderer = get_renderer(
            "fast", style="photo", backgrounds="test", background=BACKGROUND_TYPES[kind], floor_prob=0.3
        )
        for view in render_views(root / name, VIEWS, resolution, renderer=renderer, seed=seed * 100_003 + k):
            out.append(ScanView(view.image, view.depth, view.mask, name, kind))
    return out


def cached_test_views(
    cache: str | Path | None, scans: str | Path | None = None, resolution: int = 256, progress: bool = False
) -> list[ScanView]:
    """:func:`render_test_views` (all scans and background types), read from the ``cache`` .npz
    when it holds views of this ``resolution``, else rendered and written there (atomically)."""
    if cache is not None and Path(cache).is_file():
        with np.load(cache, allow_pickle=False) as z:
            if int(z["resolution"]) == resolution:
                return [
                    ScanView(*arrays, str(s), str(b))
                    for *arrays, s, b in zip(z["image"], z["depth"], z["mask"], z["scan"], z["background"])
                ]
    views = render_test_views(scans, resolution, progress=progress)
    if cache is not None:
        write_npz_atomic(
            cache,
            image=np.stack([v.image for v in views]),
            depth=np.stack([v.depth for v in views]),
            mask=np.stack([v.mask for v in views]),
            scan=np.array([v.scan for v in views]),
            background=np.array([v.background for v in views]),
            resolution=resolution,
        )
    return views


def _rmse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, mode: str) -> float:
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))[None, None]  # noqa: E731
    return depth_metrics(t(pred.astype(np.float64)), t(gt.astype(np.float64)), t(mask), mode=mode)["rmse"]


def score_view(view: ScanView, raw: np.ndarray, lift_mask: np.ndarray) -> dict[str, float]:
    """Scores of one view: ``iou`` and, per mode, ``model_<mode>``, ``flat_<mode>``,
    ``heuristic_<mode>`` RMSEs over the true mask (see the module doc)."""
    true = view.mask & (view.depth > 0)
    row = {"iou": float((lift_mask & true).sum() / max((lift_mask | true).sum(), 1))}
    pred = np.where(lift_mask, raw, 0.0)
    for mode in MODES:
        row[f"model_{mode}"] = _rmse(pred, view.depth, true, mode)
        row[f"flat_{mode}"] = _rmse(np.zeros_like(view.depth), view.depth, true, mode)
        row[f"heuristic_{mode}"] = _rmse(silhouette_heuristic(true), view.depth, true, mode)
    return row


def evaluate_scans(
    views: Sequence[ScanView], checkpoint: str | Path | None = None, device: str = "cpu", progress: bool = False
) -> dict[str, dict[str, float]]:
    """Lift every view with ``checkpoint`` (None: the shipped model) and summarise per background
    type and over all: mean IoU, mean RMSEs, and ``<mode>_vs_flat`` / ``<mode>_vs_heuristic``
    ratios of mean RMSEs, plus the share of views whose mask came from each source."""
    rows: dict[str, list[dict[str, float]]] = {}
    sources: dict[str, dict[str, int]] = {}
    for view in tqdm(views, desc="lift test scans", unit="img", disable=not progress):
        result = lift(view.image, checkpoint=checkpoint, device=device)
        rows.setdefault(view.background, []).append(score_view(view, result.raw, result.mask))
        counts = sources.setdefault(view.background, {})
        counts[result.info["mask"]] = counts.get(result.info["mask"], 0) + 1
    rows["all"] = [r for kind in list(rows) for r in rows[kind]]
    sources["all"] = {}
    for kind in list(sources)[:-1]:
        for k, n in sources[kind].items():
            sources["all"][k] = sources["all"].get(k, 0) + n
    summary = {}
    for kind, items in rows.items():
        mean = {k: float(np.mean([r[k] for r in items])) for k in items[0]}
        for mode in MODES:
            mean[f"{mode}_vs_flat"] = mean[f"model_{mode}"] / mean[f"flat_{mode}"]
            mean[f"{mode}_vs_heuristic"] = mean[f"model_{mode}"] / mean[f"heuristic_{mode}"]
            mean[f"heuristic_{mode}_vs_flat"] = mean[f"heuristic_{mode}"] / mean[f"flat_{mode}"]
        mean["views"] = len(items)
        mean["mask_sources"] = dict(sorted(sources[kind].items()))
        summary[kind] = mean
    return summary


def markdown_table(summary: dict[str, dict[str, float]]) -> str:
    """The summary as a markdown table, one row per background type."""
    lines = [
        "| background | views | mask IoU | ls / flat | ls / heuristic | affine / flat | affine / heuristic "
        "| heuristic ls / flat | mask from |",
        "|---" * 9 + "|",
    ]
    for kind, s in summary.items():
        lines.append(
            f"| {kind} | {s['views']} | {s['iou']:.3f} | {s['ls_vs_flat']:.3f} | {s['ls_vs_heuristic']:.3f} "
            f"| {s['affine_vs_flat']:.3f} | {s['affine_vs_heuristic']:.3f} | {s['heuristic_ls_vs_flat']:.3f} "
            f"| {', '.join(f'{k} {n}' for k, n in s['mask_sources'].items())} |"
        )
    return "\n".join(lines)
