"""Contact sheet of the procedural sculpture families: one row per family, N sculptures each.

Usage: python scripts/sculpture_sheet.py [--out docs/sculpture-families.png] [--per-family 6]
       [--seed 0] [--size 128] [--azimuth 25] [--elevation 10]

Each tile is one view (fast renderer) of ``sculpture(seed, i, kind)``; the family name is written
on the first tile of its row. The PNG is written atomically.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from pointkit.io import atomic_path
from pointkit.render import render_views
from pointkit.render.procedural import KINDS, sculpture


def family_sheet(
    seed: int = 0, per_family: int = 6, size: int = 128, azimuth: float = 25.0, elevation: float = 10.0, kinds=KINDS
) -> np.ndarray:
    """(len(kinds) * size, per_family * size, 3) uint8: rows are families, labelled."""
    rows = []
    for kind in kinds:
        tiles = []
        for i in range(per_family):
            view = render_views(sculpture(seed, i, kind), [(azimuth, elevation)], size)[0]
            tile = np.ascontiguousarray(view.image)
            tile[~view.mask] = 255  # white paper behind the sculptures
            tiles.append(tile)
        row = np.concatenate(tiles, 1)
        cv2.putText(row, kind, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(row, kind, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (200, 30, 30), 1, cv2.LINE_AA)
        row[-1, :] = 200  # a thin rule between families
        rows.append(row)
    return np.concatenate(rows, 0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/sculpture-families.png")
    ap.add_argument("--per-family", type=int, default=6)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--azimuth", type=float, default=25.0)
    ap.add_argument("--elevation", type=float, default=10.0)
    args = ap.parse_args()
    sheet = family_sheet(args.seed, args.per_family, args.size, args.azimuth, args.elevation)
    with atomic_path(args.out) as tmp:
        if not cv2.imwrite(str(tmp), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9]):
            raise SystemExit(f"could not write {args.out}")
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]})")


if __name__ == "__main__":
    main()
