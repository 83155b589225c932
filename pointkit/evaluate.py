"""``pointkit eval``: depth metrics of a LiftNet checkpoint (or the flat baseline) on a dataset split.

Every view of every object of the split is a test image. Images are resized to the network input
(ground-truth depth and mask by nearest pixel centre, as in training); the prediction is aligned to
the ground truth on the object's pixels under each mode of :mod:`pointkit.metrics` (``paper``,
``ls``, ``affine``) and scored with l1, rmse, abs_rel, sq_rel and delta1 (Eigen et al., as the
paper's §5.1). The flat baseline predicts a constant depth: after alignment that is the median
(paper), the mean (ls) or the best plane (affine) of the ground truth.

Output folder::

    metrics.json   {"modes": {mode: {metric: mean over images}}, "images": n, ...}
    per_image.csv  object, view, and every metric under every mode
    metrics.md     a markdown table (rows: modes)
    grid.png       input / ground truth / prediction (paper-aligned) / |error| for a sample
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from pointkit.errors import PointkitError
from pointkit.io import atomic_path, write_bytes_atomic, write_json_atomic
from pointkit.metrics import MODES, align_depth, depth_metrics
from pointkit.models import load_checkpoint, to_network_input

METRICS = ("l1", "rmse", "abs_rel", "sq_rel", "delta1")
HEADLINE = ("rmse", "l1", "delta1")


def flat_baseline(images: torch.Tensor) -> torch.Tensor:
    """The flat-depth baseline: (B,3,S,S) images -> (B,1,S,S) zeros (a constant depth)."""
    return torch.zeros(images.shape[0], 1, *images.shape[-2:], dtype=torch.float32, device=images.device)


def _model_predictor(model, device: torch.device) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """(B,3,S,S) uint8 images, (B,S,S) bool masks -> (B,1,S,S) depth; a model with the silhouette
    prior gets the prior of the ground-truth mask."""
    from pointkit.masks import silhouette_prior_batch

    @torch.no_grad()
    def predict(images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        prior = silhouette_prior_batch(masks) if model.config.prior == "silhouette" else None
        return model(to_network_input(images.to(device), prior=prior))[:, :1].float().cpu()
    return predict


def zero_median(depth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """LiftNet's canonical output: (B,1,S,S) depth shifted to zero median over each (B,1,S,S) mask.
    Not in the paper: the correspondence loss leaves the offset free, and §5.1's alignment takes
    its scale from uncentred values, so an arbitrary offset would be scored instead of the shape."""
    from pointkit.metrics import masked_median

    median = masked_median(depth.flatten(1), mask.flatten(1)).nan_to_num(0.0)
    return depth - median.to(depth.dtype)[:, None, None, None]


def _grid(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]], tile: int = 128) -> bytes:
    """PNG bytes: one row per image, columns input / gt / prediction / |error| (error: white = worst)."""
    from PIL import Image

    from pointkit.imaging import colorize_depth

    out = []
    for image, gt, pred, mask in rows:
        err = np.abs(pred - gt) * mask
        scale = max(float(err.max()), 1e-9)
        err_img = np.repeat((255 * err / scale).astype(np.uint8)[..., None], 3, -1)
        tiles = [image, colorize_depth(gt, mask), colorize_depth(pred, mask), err_img]
        out.append(np.concatenate([np.asarray(Image.fromarray(t).resize((tile, tile), Image.NEAREST)) for t in tiles], 1))
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(out, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _predictor(checkpoint, baseline, input_size: int | None, dev: torch.device) -> tuple[Callable, int | None, str]:
    """(predict(images, masks) -> depth, evaluation side or None for the dataset's, source name)
    of a checkpoint (a file, run folder or model name) or a baseline."""
    from pointkit.models.liftnet import checkpoint_file

    if baseline is None:
        if checkpoint is None:
            raise PointkitError("give a CHECKPOINT or --baseline flat")
        ckpt = checkpoint_file(checkpoint)
        model, _ = load_checkpoint(ckpt, map_location=dev)
        return _model_predictor(model, dev), model.config.input_size, str(ckpt)
    if baseline == "flat":
        return (lambda images, masks: flat_baseline(images)), input_size, "flat"
    if callable(baseline):
        return baseline, input_size, "function"
    raise PointkitError(f"--baseline {baseline!r}: the only built-in baseline is 'flat'")


def _score_object(rec, object_id: str, predict: Callable, S: int, batch_size: int) -> tuple[list[dict], list[tuple]]:
    """Per-view metric rows of one object at side S (views with fewer than 4 object pixels left
    out) and the (image, depth, paper-aligned prediction, mask) samples of the grid."""
    from pointkit.data.resize import resize_views

    images, masks, depth = resize_views(rec.images, rec.masks, rec.depth, S)
    mask = masks & (depth > 0)
    img_t, masks_t = torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(mask)
    preds = torch.cat([predict(img_t[i:i + batch_size], masks_t[i:i + batch_size])
                       for i in range(0, len(img_t), batch_size)])
    gt_t, m_t = torch.from_numpy(depth)[:, None], torch.from_numpy(mask)[:, None]
    preds = zero_median(preds, m_t)
    keep = m_t.flatten(1).sum(1) >= 4
    rows = [{"object": object_id, "view": v} for v in range(len(images))]
    kept_views = keep.nonzero().flatten().tolist()
    for mode in MODES:
        values = depth_metrics(preds[keep], gt_t[keep], m_t[keep], mode=mode, per_image=True) if keep.any() else {}
        for name in METRICS:
            for j, v in enumerate(kept_views):
                rows[v][f"{name}_{mode}"] = float(values[name][j])
    aligned = align_depth(preds.double(), gt_t.double(), m_t, mode="paper").float() if keep.any() else preds
    return ([rows[v] for v in kept_views],
            [(images[v], depth[v], aligned[v, 0].numpy(), mask[v]) for v in kept_views])


def evaluate(checkpoint: str | Path | None, dataset: str | Path, out: str | Path, split: str = "test",
             baseline: str | Callable[[torch.Tensor], torch.Tensor] | None = None, input_size: int | None = None,
             batch_size: int = 16, device: str = "auto", grid: int = 8, progress: bool = True) -> dict[str, Any]:
    """Evaluate a checkpoint (or a baseline) on one split of a dataset with ground-truth depth.

    Args:
        checkpoint: LiftNet safetensors checkpoint, or a run folder (its best.safetensors);
            ignored when ``baseline`` is given.
        dataset: dataset folder (rendered: it must carry depth).
        out: output folder (see module doc).
        split: "train", "val", "test" or "all".
        baseline: "flat", or a function ((B,3,S,S) uint8 images, (B,S,S) bool masks) -> (B,1,S,S) depth.
        input_size: evaluation side for a baseline (default: the dataset's resolution); a
            checkpoint always uses its own input size.
        batch_size, device: inference settings.
        grid: images in grid.png (an even sample of the split).

    Returns:
        The headline: rmse / l1 / delta1 under each mode, images, out.
    """
    from tqdm import tqdm

    from pointkit.data.format import Dataset
    from pointkit.models.device import resolve_device

    if batch_size < 1:
        raise PointkitError(f"--batch-size {batch_size}: must be at least 1")
    if input_size is not None and input_size < 1:
        raise PointkitError(f"--input-size {input_size}: must be at least 1")
    ds = Dataset.open(dataset)
    ids = ds.split(split)
    if not ids:
        raise PointkitError(f"{dataset}: no objects in split {split!r}; choose another --split")
    predict, size, source = _predictor(checkpoint, baseline, input_size, resolve_device(device))

    per_image: list[dict[str, Any]] = []
    samples: list[tuple] = []
    total_views = sum(len(ds.objects[i].get("views", [])) for i in ids) or None
    bar = tqdm(total=total_views, desc="eval", unit="img", disable=not progress)
    for object_id in ids:
        rec = ds.read(object_id)
        if rec.depth is None:
            raise PointkitError(f"{dataset}: object {object_id} has no ground-truth depth (a matched dataset?); "
                                "evaluate on a rendered dataset")
        rows, views = _score_object(rec, object_id, predict, size or rec.images.shape[1], batch_size)
        per_image += rows
        samples += views
        bar.update(rec.images.shape[0])
    bar.close()
    if not per_image:
        raise PointkitError(f"{dataset}: no view of split {split!r} has object pixels with depth")

    modes = {mode: {name: float(np.mean([r[f"{name}_{mode}"] for r in per_image])) for name in METRICS} for mode in MODES}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"modes": modes, "images": len(per_image), "objects": len(ids), "split": split, "dataset": str(dataset),
              "model": source, "input_size": int(samples[0][1].shape[0])}
    write_json_atomic(out / "metrics.json", result)
    fields = ["object", "view"] + [f"{n}_{m}" for m in MODES for n in METRICS]
    with atomic_path(out / "per_image.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(per_image)
    lines = [f"{source} on {dataset} ({split}, {len(per_image)} images, {result['input_size']} px)", "",
             "| alignment | " + " | ".join(METRICS) + " |", "|---" * (len(METRICS) + 1) + "|"]
    lines += [f"| {mode} | " + " | ".join(f"{modes[mode][n]:.4f}" for n in METRICS) + " |" for mode in MODES]
    write_bytes_atomic(out / "metrics.md", ("\n".join(lines) + "\n").encode())
    if grid > 0:
        pick = np.linspace(0, len(samples) - 1, min(grid, len(samples))).round().astype(int)
        write_bytes_atomic(out / "grid.png", _grid([samples[i] for i in pick]))
    headline = {f"{n}_{m}": round(modes[m][n], 5) for m in MODES for n in HEADLINE}
    return {**headline, "images": len(per_image), "model": source, "out": str(out)}
