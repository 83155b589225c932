"""The engine's camera effects against kornia.augmentation, same images, same run (issue 22).

Renders one batch of engine views (``SynthStream.next_batch`` on a small shape bank), then applies
to those same images (B, 3, S, S):
- ``engine``: ``pointkit.engine.render.camera_effects`` (exposure, gamma, noise; the engine's own
  generator);
- ``kornia``: the nearest kornia.augmentation pipeline, ``RandomGamma(gamma, gain)`` +
  ``RandomGaussianNoise`` (kornia's noise std is fixed: 0.01, the mean of the engine's U(0, 0.02));
- ``kornia+blur+jpeg``: the same plus ``RandomGaussianBlur`` and ``RandomJPEG`` (q 50-95), which
  the CPU photo style has and the engine lacks.

Reports the median time of each (--runs after one warm-up) and its ratio to ``engine``, the output
statistics (mean, std, mean |change| from the input images) and whether the output is the same
under two different seeds of torch's global RNG (the engine's stream draws from its own generator,
so a batch does not depend on what else in the process used torch's RNG).

    .venv/bin/python benchmarks/camera_effects.py [--batch 32] [--size 128] [--runs 10] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from timing import median_time  # benchmarks/timing.py

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _engine_views(batch: int, size: int, device: str) -> torch.Tensor:
    """(batch, 3, size, size) float engine renders in [0, 1] of 8 procedural sculptures (source
    views, with the engine's own camera already on them: the same input for every pipeline)."""
    import numpy as np

    from pointkit.engine import ShapeBank, SynthStream, mesh_to_sdf
    from pointkit.render import sculpture

    grids = np.stack([mesh_to_sdf(sculpture(0, i), 32) for i in range(8)])
    stream = SynthStream(ShapeBank.from_grids(grids, dtype="int8"), input_size=size, device=device)
    return stream.next_batch(batch, stream.generator(0))["image"].float() / 255.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=32, help="images")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    import kornia.augmentation as K

    from pointkit.engine.render import camera_effects

    clean = _engine_views(args.batch, args.size, args.device)
    n = clean.shape[0]

    def engine(seed: int = 0) -> torch.Tensor:
        g = torch.Generator(args.device).manual_seed(seed)
        return camera_effects(clean.reshape(n, 1, *clean.shape[1:]), g).reshape(clean.shape).clamp(0, 1)

    photometric = [K.RandomGamma(gamma=(0.8, 1.25), gain=(0.85, 1.15), p=1.0), K.RandomGaussianNoise(std=0.01, p=1.0)]
    pipelines = {
        "kornia": K.AugmentationSequential(*photometric),
        "kornia+blur+jpeg": K.AugmentationSequential(
            *photometric,
            K.RandomGaussianBlur((5, 5), sigma=(0.3, 0.9), p=0.5),
            K.RandomJPEG(jpeg_quality=(50.0, 95.0), p=1.0),
        ),
    }

    def kornia(name: str) -> torch.Tensor:
        return pipelines[name](clean).clamp(0, 1)  # its parameters: torch's global RNG

    def under_global_seed(fn, seed: int) -> torch.Tensor:
        torch.manual_seed(seed)  # what model init, dropout or a DataLoader leave behind
        return fn()

    runs = {"engine": engine, **{name: (lambda name=name: kornia(name)) for name in pipelines}}
    base = median_time(engine, args.runs, warmup=1)
    rows = {}
    for name, fn in runs.items():
        seconds = base if name == "engine" else median_time(fn, args.runs, warmup=1)
        out = under_global_seed(fn, 0)
        rows[name] = {
            "seconds": round(seconds, 5),
            "time / engine": round(seconds / base, 2),
            "mean": round(out.mean().item(), 4),
            "std": round(out.std().item(), 4),
            "mean |change|": round((out - clean).abs().mean().item(), 4),
            "independent of torch's global RNG": bool(torch.equal(out, under_global_seed(fn, 1))),
        }
    rows["clean"] = {"mean": round(clean.mean().item(), 4), "std": round(clean.std().item(), 4)}
    print(
        json.dumps({"images": n, "size": args.size, "device": args.device, "runs": args.runs, "rows": rows}, indent=1)
    )


if __name__ == "__main__":
    main()
