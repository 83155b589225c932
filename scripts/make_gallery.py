"""Build the real-photo gallery locally: input, depth, mask and a turntable of the lifted mesh.

The photo sets in ../shared/data/photos carry no licence that allows committing derived images, so
the gallery is built on the user's machine into --out (default out/gallery): one PNG row per photo
and a gallery.md that shows them. The CC0 example image (examples/) is always included, so the
script also makes the one row docs/gallery.md can ship (--example-only --out docs/gallery).

Usage: .venv/bin/python scripts/make_gallery.py [--checkpoint PATH] [--out out/gallery] [--example-only]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PHOTOS = REPO.parent / "shared" / "data" / "photos"
GALLERY = (
    ("dinoSparseRing/dinoSR0003.png", "Middlebury dino (ceramic figurine, black backdrop)"),
    ("templeSparseRing/templeSR0002.png", "Middlebury temple (plaster replica)"),
    ("fountain-P11/images/0005.jpg", "fountain-P11 (stone relief, Strecha et al.)"),
    ("monstree/full/IMG_1037.JPG", "monstree (tree trunk carved as a face)"),
)
EXAMPLE = (REPO / "examples" / "venus_de_milo_cast.png", "CC0 example: SMK's Venus de Milo cast (render)")
TILE = 192


def _tile(image: np.ndarray) -> np.ndarray:
    """Fit (H, W, 3) uint8 into a TILE x TILE tile (letterboxed on white)."""
    h, w = image.shape[:2]
    s = TILE / max(h, w)
    small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
    out = np.full((TILE, TILE, 3), 255, np.uint8)
    y, x = (TILE - small.shape[0]) // 2, (TILE - small.shape[1]) // 2
    out[y : y + small.shape[0], x : x + small.shape[1]] = small
    return out


def gallery_row(path: Path, checkpoint: str | None, max_side: int = 768) -> np.ndarray:
    """(TILE, 6 TILE, 3) uint8: input, depth colour map, mask overlay, three turntable frames."""
    import pointkit
    from pointkit.imaging import load_image
    from pointkit.imaging import colorize_depth
    from pointkit.view import turntable

    rgb = load_image(path).rgb
    s = min(1.0, max_side / max(rgb.shape[:2]))
    if s < 1:
        rgb = cv2.resize(rgb, (round(rgb.shape[1] * s), round(rgb.shape[0] * s)), interpolation=cv2.INTER_AREA)
    result = pointkit.lift(rgb, checkpoint=checkpoint, mesh_resolution=256)
    overlay = rgb.copy()
    overlay[~result.mask] = (overlay[~result.mask] * 0.25).astype(np.uint8)
    frames = turntable(result.mesh, views=3, size=TILE, elevation=10.0, arc=120.0)
    return np.concatenate([_tile(rgb), _tile(colorize_depth(result.depth, result.mask)), _tile(overlay), frames], 1)


def main(argv: list[str] | None = None) -> int:
    from pointkit.render.sheet import save_sheet

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="LiftNet checkpoint (default: the shipped model)")
    ap.add_argument("--out", default=str(REPO / "out" / "gallery"))
    ap.add_argument("--example-only", action="store_true", help="only the CC0 example (what docs/ may ship)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    items = (
        [EXAMPLE] if args.example_only else [EXAMPLE] + [(PHOTOS / p, c) for p, c in GALLERY if (PHOTOS / p).is_file()]
    )
    lines = ["# Gallery: input | depth (near = yellow) | mask | lifted mesh, three views", ""]
    for path, caption in items:
        name = f"{Path(path).stem}.png"
        save_sheet(gallery_row(Path(path), args.checkpoint), out / name)
        lines += [f"**{caption}** (`{Path(path).name}`)", "", f"![{caption}]({name})", ""]
        print(out / name)
    (out / "gallery.md").write_text("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
