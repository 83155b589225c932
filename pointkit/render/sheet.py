"""Contact sheet of one dataset object: RGB, depth colour map, mask, and correspondence lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pointkit.data.format import Dataset
from pointkit.errors import PointkitError
from pointkit.imaging import colorize_depth
from pointkit.io import atomic_path


def object_sheet(
    dataset: str | Path, object_id: str | None = None, pair: int = 0, lines: int = 40, tile: int = 160, seed: int = 0
) -> np.ndarray:
    """A sheet image (rows: views; columns: RGB, depth, mask) plus the two views of one pair side
    by side with ``lines`` seeded correspondence lines.

    Args:
        dataset: dataset folder.
        object_id: the object (default: the first in the manifest).
        pair: index of the view pair whose correspondences are drawn.
        lines: number of correspondence lines drawn (a seeded sample).
        tile: tiles are resized to at least this many pixels (nearest neighbour).

    Returns:
        (H, W, 3) uint8.
    """
    ds = Dataset.open(dataset)
    if not ds.objects:
        raise PointkitError(f"{dataset}: the dataset has no objects")
    object_id = object_id or sorted(ds.objects)[0]
    rec = ds.read(object_id)
    h, w = rec.images.shape[1:3]
    zoom = max(1, int(np.ceil(tile / max(h, w))))

    def up(img: np.ndarray) -> np.ndarray:
        return img.repeat(zoom, 0).repeat(zoom, 1)

    rows = []
    for v in range(rec.num_views):
        mask = rec.masks[v]
        depth = colorize_depth(rec.depth[v], mask) if rec.depth is not None else np.zeros((h, w, 3), np.uint8)
        rows.append(
            np.concatenate(
                [up(rec.images[v]), up(depth), up(np.repeat(mask[..., None] * 255, 3, 2).astype(np.uint8))], 1
            )
        )
    grid = np.concatenate(rows, 0)
    if len(rec.pairs):
        if not 0 <= pair < len(rec.pairs):
            raise PointkitError(f"--pair {pair}: object {object_id} has pairs 0..{len(rec.pairs) - 1}")
        a, b = (int(x) for x in rec.pairs[pair])
        uv_a, uv_b = rec.correspondences(pair)
        panel = Image.fromarray(np.concatenate([up(rec.images[a]), up(rec.images[b])], 1))
        draw = ImageDraw.Draw(panel)
        pick = np.random.default_rng(seed).permutation(len(uv_a))[:lines]
        colours = np.random.default_rng(seed + 1).integers(64, 256, (len(pick), 3))
        for k, c in zip(pick, colours):
            pa, pb = uv_a[k] * zoom, uv_b[k] * zoom + [w * zoom, 0]
            draw.line([tuple(pa), tuple(pb)], fill=tuple(int(x) for x in c), width=1)
            for p in (pa, pb):
                draw.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], outline=tuple(int(x) for x in c))
        bottom = np.zeros((panel.height, grid.shape[1], 3), np.uint8)
        bottom[:, : panel.width] = np.asarray(panel)[:, : grid.shape[1]]
        grid = np.concatenate([grid, bottom], 0)
    return grid


def save_sheet(image: np.ndarray, out: str | Path) -> Path:
    """Write an (H, W, 3) uint8 image atomically (format from the suffix, e.g. .png)."""
    out = Path(out)
    if out.suffix.lower() not in Image.registered_extensions():
        raise PointkitError(f"{out}: {out.suffix or 'no suffix'} is not an image format; give a .png file name")
    with atomic_path(out) as tmp:
        Image.fromarray(image).save(tmp)
    return out
