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
    config.json    the run's EvalConfig ({"job": "eval", "config": ...}; an --out holding another
                   job's config.json is refused)
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import click
import numpy as np
import torch
from tqdm import tqdm

from pointkit.data.format import Dataset
from pointkit.data.resize import resize_views
from pointkit.errors import PointkitError
from pointkit.io import atomic_path, write_bytes_atomic, write_json_atomic
from pointkit.jobs.settings import check, device_setting, load_saved, progress_setting, save, setting
from pointkit.metrics import MODES, align_depth, depth_metrics, masked_median
from pointkit.models import load_checkpoint, to_network_input
from pointkit.models.catalog import checkpoint_file
from pointkit.models.device import resolve_device

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
        out.append(
            np.concatenate([np.asarray(Image.fromarray(t).resize((tile, tile), Image.NEAREST)) for t in tiles], 1)
        )
    buf = io.BytesIO()
    Image.fromarray(np.concatenate(out, 0)).save(buf, format="PNG")
    return buf.getvalue()


def _predictor(checkpoint, baseline, input_size: int | None, dev: torch.device) -> tuple[Callable, int | None, str]:
    """(predict(images, masks) -> depth, evaluation side or None for the dataset's, source name)
    of a checkpoint (a file, run folder or model name) or a baseline."""
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
    images, masks, depth = resize_views(rec.images, rec.masks, rec.depth, S)
    mask = masks & (depth > 0)
    img_t, masks_t = torch.from_numpy(images).permute(0, 3, 1, 2), torch.from_numpy(mask)
    preds = torch.cat(
        [predict(img_t[i : i + batch_size], masks_t[i : i + batch_size]) for i in range(0, len(img_t), batch_size)]
    )
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
    return ([rows[v] for v in kept_views], [(images[v], depth[v], aligned[v, 0].numpy(), mask[v]) for v in kept_views])


@dataclass
class EvalConfig:
    """What ``pointkit eval`` does. The command's options are made from these fields
    (:mod:`pointkit.jobs.settings`): a default, a range and a help line live here only, and a
    value out of range is a one-line PointkitError; saved as ``<out>/config.json``."""

    dataset: str = setting(help="Dataset folder (rendered: it must carry depth).", cli=False)
    out: str = setting(help="Folder for metrics.json, CSV, table, grid.", type=click.Path(file_okay=False))
    checkpoint: str | None = setting(
        None,
        "LiftNet checkpoint: a .safetensors file, a run folder (its "
        "best.safetensors) or a model name; ignored with a baseline.",
        cli=False,
    )
    split: str = setting("test", "Split to evaluate: train, val, test or all.")
    baseline: str | None = setting(
        None, "Evaluate the flat-depth baseline instead of a checkpoint.", type=click.Choice(["flat"])
    )
    input_size: int | None = setting(
        None, "Evaluation side for --baseline (default: the dataset's resolution).", type=click.IntRange(min=16)
    )
    batch_size: int = setting(16, "Images per inference batch.", type=click.IntRange(min=1))
    device: str = device_setting()
    grid: int = setting(8, "Images in grid.png (0: none).", type=click.IntRange(min=0))
    progress: bool = progress_setting()

    def __post_init__(self):
        self.dataset, self.out = str(self.dataset), str(self.out)
        self.checkpoint = None if self.checkpoint is None else str(self.checkpoint)
        check(self)


def _score_split(ds, ids: list[str], predict: Callable, size: int | None, config: EvalConfig) -> tuple[list, list]:
    """Per-image metric rows and grid samples of every object ``ids`` of ``ds`` (``_score_object``)."""
    per_image: list[dict[str, Any]] = []
    samples: list[tuple] = []
    total_views = sum(len(ds.objects[i].get("views", [])) for i in ids) or None
    bar = tqdm(total=total_views, desc="eval", unit="img", disable=not config.progress)
    for object_id in ids:
        rec = ds.read(object_id)
        if rec.depth is None:
            raise PointkitError(
                f"{config.dataset}: object {object_id} has no ground-truth depth (a matched "
                "dataset?); evaluate on a rendered dataset"
            )
        rows, views = _score_object(rec, object_id, predict, size or rec.images.shape[1], config.batch_size)
        per_image += rows
        samples += views
        bar.update(rec.images.shape[0])
    bar.close()
    if not per_image:
        raise PointkitError(f"{config.dataset}: no view of split {config.split!r} has object pixels with depth")
    return per_image, samples


def _write_outputs(out: Path, result: dict[str, Any], per_image: list[dict], samples: list[tuple], grid: int) -> None:
    """metrics.json, per_image.csv, metrics.md and (``grid`` > 0) grid.png in ``out``."""
    modes = result["modes"]
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "metrics.json", result)
    fields = ["object", "view"] + [f"{n}_{m}" for m in MODES for n in METRICS]
    with atomic_path(out / "per_image.csv") as tmp:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(per_image)
    lines = [
        f"{result['model']} on {result['dataset']} ({result['split']}, {len(per_image)} images, "
        f"{result['input_size']} px)",
        "",
        "| alignment | " + " | ".join(METRICS) + " |",
        "|---" * (len(METRICS) + 1) + "|",
    ]
    lines += [f"| {mode} | " + " | ".join(f"{modes[mode][n]:.4f}" for n in METRICS) + " |" for mode in MODES]
    write_bytes_atomic(out / "metrics.md", ("\n".join(lines) + "\n").encode())
    if grid > 0:
        pick = np.linspace(0, len(samples) - 1, min(grid, len(samples))).round().astype(int)
        write_bytes_atomic(out / "grid.png", _grid([samples[i] for i in pick]))


def run_eval(config: EvalConfig, baseline: Callable | None = None) -> dict[str, Any]:
    """Evaluate ``config.checkpoint`` (or ``config.baseline``, or a ``baseline`` function
    ((B,3,S,S) uint8 images, (B,S,S) bool masks) -> (B,1,S,S) depth) on ``config.split`` of
    ``config.dataset``; write the module doc's files and ``config.json`` to ``config.out``.

    Returns:
        The headline: rmse / l1 / delta1 under each mode, images, model, out.

    Raises:
        PointkitError: ``out`` belongs to another job, an empty split, a dataset without depth,
            an unreadable checkpoint.
    """
    load_saved(config.out, "eval")  # refuses an --out holding another job's config.json
    ds = Dataset.open(config.dataset)
    ids = ds.split(config.split)
    if not ids:
        raise PointkitError(f"{config.dataset}: no objects in split {config.split!r}; choose another --split")
    predict, size, source = _predictor(
        config.checkpoint, baseline or config.baseline, config.input_size, resolve_device(config.device)
    )
    per_image, samples = _score_split(ds, ids, predict, size, config)
    modes = {
        mode: {name: float(np.mean([r[f"{name}_{mode}"] for r in per_image])) for name in METRICS} for mode in MODES
    }
    result = {
        "modes": modes,
        "images": len(per_image),
        "objects": len(ids),
        "split": config.split,
        "dataset": config.dataset,
        "model": source,
        "input_size": int(samples[0][1].shape[0]),
    }
    out = Path(config.out)
    _write_outputs(out, result, per_image, samples, config.grid)
    save(config, out, "eval")
    headline = {f"{n}_{m}": round(modes[m][n], 5) for m in MODES for n in HEADLINE}
    return {**headline, "images": len(per_image), "model": source, "out": str(out)}


def evaluate(
    checkpoint: str | Path | None,
    dataset: str | Path,
    out: str | Path,
    *,
    baseline: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Evaluate a checkpoint (or a baseline) on one split of a dataset with ground-truth depth.

    Args:
        checkpoint: LiftNet safetensors checkpoint, run folder (its best.safetensors) or model
            name; ignored when ``baseline`` is given.
        dataset: dataset folder (rendered: it must carry depth).
        out: output folder (see module doc).
        baseline: "flat", or a function ((B,3,S,S) uint8 images, (B,S,S) bool masks) -> (B,1,S,S) depth.
        options: the other :class:`EvalConfig` fields (``split``, ``input_size`` (the side for a
            baseline; a checkpoint uses its own), ``batch_size``, ``device``, ``grid``, ``progress``),
            with its defaults.

    Returns:
        The headline: rmse / l1 / delta1 under each mode, images, model, out.
    """
    function = baseline if callable(baseline) else None
    config = EvalConfig(
        dataset=dataset, out=out, checkpoint=checkpoint, baseline=None if function else baseline, **options
    )
    return run_eval(config, function)
