"""Lift's default mask on the demo image against its true mask (issue 20: IoU >= 0.9).

``examples/venus_de_milo_cast.png`` is a render (scripts/make_demo_image.py), so its true object
mask is kept beside it (``venus_de_milo_cast_mask.png``). For the shipped model and each given
checkpoint this lifts the demo image with ``mask="auto"`` and prints one JSON line: the mask's
source, IoU with the true mask, and its coverage (share of the true statue) and spill (share of
the mask outside it).

    .venv/bin/python benchmarks/demo_mask.py [CHECKPOINT ...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

import pointkit

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def score(image: Path, truth: np.ndarray, checkpoint: str | None) -> dict:
    """The auto mask of one model on ``image`` against ``truth`` (H, W) bool."""
    result = pointkit.lift(str(image), checkpoint=checkpoint or "default")
    mask = result.mask
    inter = float((mask & truth).sum())
    return {
        "checkpoint": checkpoint or "shipped default",
        "source": result.info["mask"],
        "iou": inter / float((mask | truth).sum()),
        "coverage": inter / float(truth.sum()),
        "spill": float((mask & ~truth).sum()) / max(float(mask.sum()), 1.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*")
    parser.add_argument("--image", type=Path, default=EXAMPLES / "venus_de_milo_cast.png")
    args = parser.parse_args()
    truth = np.asarray(Image.open(args.image.with_name(f"{args.image.stem}_mask.png")).convert("L")) >= 128
    for checkpoint in [None, *args.checkpoints]:
        print(json.dumps(score(args.image, truth, checkpoint)))


if __name__ == "__main__":
    main()
