"""In-domain depth test: LiftNet on unseen sculptures rendered exactly as in training, beside flat.

The real-scan test (real_scans.py) mixes two gaps: what the training signal can teach and how far
real objects are from the training data. This test removes the second: views of sculptures
the model never saw, made by ``pointkit.engine`` like ``train --synth`` makes its pairs (photo
style, the training backgrounds, ``--zoom``), from a held-out bank:

    pointkit render-synthetic --bank --procedural 40 --seed 3 --out out/heldout-bank

(the training banks of scripts/prepare_gpu_carry.sh use seeds 1 and 2). Each checkpoint's raw
depth channel is scored on the true mask: RMSE after ls / affine alignment, as ratios of mean
RMSE to the flat depth and to the silhouette heuristic (below 1 = better), as real_scans.py does.

    .venv/bin/python benchmarks/synthetic_depth.py [NAME=]CHECKPOINT ... [--bank BANK] [--views 256]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pointkit.engine import SynthStream, load_appearance, load_bank  # noqa: E402
from pointkit.masks import silhouette_heuristic  # noqa: E402
from pointkit.metrics import depth_metrics  # noqa: E402
from pointkit.models import load_checkpoint, to_network_input  # noqa: E402

MODES = ("ls", "affine")


def test_views(bank: str, size: int, count: int, seed: int, zoom: tuple[float, float]) -> list[dict]:
    """``count`` source views (image, mask, depth) in batches of 16, the same for every model."""
    stream = SynthStream(load_bank(bank), input_size=size, device="cpu", appearance=load_appearance(bank), zoom=zoom)
    batches = []
    for i in range(0, count, 16):
        batch = stream.next_batch(min(16, count - i), stream.generator(seed + i))
        batches.append({k: batch[k] for k in ("image", "mask", "depth")})
    return batches


def rmse(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, mode: str) -> torch.Tensor:
    return depth_metrics(pred[:, None].double(), gt[:, None].double(), mask[:, None], mode, per_image=True)["rmse"]


def score(model, batches: list[dict]) -> dict[str, float]:
    """Mean RMSE per mode of the model, flat and the heuristic, and their ratios."""
    sums: dict[str, list[torch.Tensor]] = {}
    for b in batches:
        image = b["image"]
        prior = None if model.config.prior == "none" else torch.zeros_like(image[:, :1], dtype=torch.float32)
        with torch.no_grad():  # a prior channel, where the model has one, is left empty (lift's first pass)
            depth = model(to_network_input(image, prior=prior))[:, 0]
        mask = b["mask"] & (b["depth"] > 0)
        heuristic = torch.from_numpy(np.stack([silhouette_heuristic(m.numpy()) for m in mask]))
        for mode in MODES:
            for name, pred in (("model", depth), ("flat", torch.zeros_like(depth)), ("heuristic", heuristic)):
                sums.setdefault(f"{name}_{mode}", []).append(rmse(pred, b["depth"], mask, mode))
    mean = {k: float(torch.cat(v).mean()) for k, v in sums.items()}
    out = {}
    for mode in MODES:
        out[f"{mode}_vs_flat"] = mean[f"model_{mode}"] / mean[f"flat_{mode}"]
        out[f"{mode}_vs_heuristic"] = mean[f"model_{mode}"] / mean[f"heuristic_{mode}"]
        out[f"heuristic_{mode}_vs_flat"] = mean[f"heuristic_{mode}"] / mean[f"flat_{mode}"]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="*", help="[NAME=]PATH of each model (the shipped default is always first)")
    ap.add_argument("--bank", default="out/heldout-bank/bank.npz", help="a held-out render-synthetic --bank file")
    ap.add_argument("--views", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--zoom", type=float, nargs=2, default=(1.0, 1.5), help="as train --synth-zoom")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    if not Path(args.bank).is_file():
        print(f"no bank at {args.bank}: make one with the command in this script's docstring", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    named = [("default", "default")] + [
        tuple(c.split("=", 1)) if "=" in c else (Path(c).stem, c) for c in args.checkpoints
    ]
    views: dict[int, list[dict]] = {}
    print(
        f"{args.views} views of {args.bank}, zoom {args.zoom[0]}-{args.zoom[1]}; ratios of mean RMSE on the true mask\n"
    )
    print("| model | ls / flat | ls / heuristic | affine / flat | affine / heuristic | heuristic ls / flat |")
    print("|---|---|---|---|---|---|")
    for name, ckpt in named:
        model, _ = load_checkpoint(ckpt)
        size = model.config.input_size
        if size not in views:
            views[size] = test_views(args.bank, size, args.views, args.seed, tuple(args.zoom))
        s = score(model, views[size])
        print(
            f"| {name} | {s['ls_vs_flat']:.3f} | {s['ls_vs_heuristic']:.3f} | {s['affine_vs_flat']:.3f} "
            f"| {s['affine_vs_heuristic']:.3f} | {s['heuristic_ls_vs_flat']:.3f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
