"""Benchmark a LiftNet training step: correspondence loss vs depth loss, and the data loader alone.

Same network, device and batch in one run:

* corr step: forward, ``correspondence_loss`` (K correspondences per pair, RANSAC on), backward,
  clamp, SGD step -- exactly ``pointkit.training.objective.compute_loss`` as ``pointkit train`` runs it
  (bf16 autocast + channels_last on CUDA);
* depth step: the same with the supervised aligned-MSE loss;
* loader: ``PairData`` (in-memory cache) through a DataLoader, batches/s, no model.

Reports images/s (median of --runs timed runs after --warmup), the corr/depth overhead (target
<= 10 %) and loader/step (target >= 2x). Data: a synthetic dataset written in a temporary folder
(smooth random depth, K correspondences per pair from a random affine camera).

    .venv/bin/python benchmarks/train_step.py [--size 128] [--ngf 16] [--batch 16] [--corr 200]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pointkit.data.format import Dataset, ObjectRecord, write_manifest, write_object  # noqa: E402
from pointkit.models import LiftNet, LiftNetConfig  # noqa: E402
from pointkit.training import PairData, TrainConfig, collate_pairs  # noqa: E402
from pointkit.models.device import resolve_device  # noqa: E402
from pointkit.training.objective import StepContext, compute_loss  # noqa: E402
from timing import run_times  # benchmarks/timing.py


def synthetic_dataset(root: Path, objects: int, size: int, views: int, corr: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    v, u = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    entries = {}
    for i in range(objects):
        depth = np.stack(
            [
                1.5 + 0.3 * np.sin(u / rng.uniform(5, 20) + rng.uniform(0, 6)) * np.cos(v / rng.uniform(5, 20))
                for _ in range(views)
            ]
        ).astype(np.float32)
        images = rng.integers(0, 255, (views, size, size, 3), dtype=np.uint8)
        pairs = [(s, t) for s in range(views) for t in range(views) if s != t]
        src = rng.uniform(0, size, (len(pairs), corr, 2))
        tgt = []
        for p, (s, _) in enumerate(pairs):
            d = depth[s][src[p, :, 1].astype(int), src[p, :, 0].astype(int)]
            X = np.concatenate([src[p], d[:, None] * size, np.ones((corr, 1))], 1)
            tgt.append(X @ np.concatenate([np.eye(2), rng.standard_normal((2, 2))], 1).T)
        write_object(
            root,
            ObjectRecord(
                f"o{i}",
                images,
                np.ones((views, size, size), bool),
                np.array(pairs),
                np.arange(len(pairs) + 1) * corr,
                src.reshape(-1, 2),
                np.concatenate(tgt),
                depth=depth,
            ),
        )
        entries[f"o{i}"] = {"split": "train"}
    write_manifest(root, {"objects": entries})
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--corr", type=int, default=200, help="correspondences per pair")
    ap.add_argument("--hypotheses", type=int, default=256)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, help="torch CPU threads")
    ap.add_argument(
        "--workers", type=int, help="DataLoader workers for the loader measurement (default 0 CPU / 4 CUDA)"
    )
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    sync = torch.cuda.synchronize if cuda else None
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()

    with tempfile.TemporaryDirectory() as tmp:
        root = synthetic_dataset(
            Path(tmp) / "ds", objects=max(4, args.batch // 4), size=args.size, views=5, corr=args.corr
        )
        data = PairData([Dataset.open(root)], "train", args.size, corr_per_pair=args.corr, cache="on")
        workers = args.workers if args.workers is not None else (4 if cuda else 0)
        loader = torch.utils.data.DataLoader(
            data,
            batch_size=args.batch,
            shuffle=True,
            collate_fn=collate_pairs,
            num_workers=workers,
            pin_memory=cuda,
            drop_last=True,
            persistent_workers=workers > 0,
        )
        batch = {k: v.to(device) for k, v in collate_pairs([data[i % len(data)] for i in range(args.batch)]).items()}

        torch.manual_seed(0)
        model = LiftNet(LiftNetConfig(input_size=args.size, ngf=args.ngf))
        model = model.to(device, memory_format=torch.channels_last if cuda else torch.contiguous_format).train()
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        steps = {}
        for loss_name in ("corr", "depth"):
            cfg = TrainConfig(datasets=[str(root)], out=tmp, loss=loss_name, hypotheses=args.hypotheses)

            def step(ctx=StepContext(cfg, cfg.resolved_tau(args.size), 0, device, autocast, channels_last=cuda)):
                loss, _ = compute_loss(model, batch, ctx, step=0)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_value_(model.parameters(), 5.0)
                opt.step()

            steps[loss_name] = step
        # Interleaved (corr, depth, corr, depth ...) so that a change of machine load hits both alike.
        times = {name: [] for name in steps}
        for _ in range(args.warmup):
            for fn in steps.values():
                fn()
        for _ in range(args.runs):
            for name, fn in steps.items():
                times[name] += run_times(fn, 1, warmup=0, sync=sync)
        results = {name: statistics.median(t) for name, t in times.items()}

        def load_epoch():
            n = 0
            for b in loader:
                b = {k: v.to(device, non_blocking=True) for k, v in b.items()}
                n += b["image"].shape[0]
            return n

        load_epoch()
        t = time.perf_counter()
        n = sum(load_epoch() for _ in range(max(1, args.runs // 2)))
        if sync:
            sync()
        loader_ips = n / (time.perf_counter() - t)

    corr_ips, depth_ips = args.batch / results["corr"], args.batch / results["depth"]
    report = {
        "device": torch.cuda.get_device_name(device) if cuda else f"cpu ({torch.get_num_threads()} threads)",
        "size": args.size,
        "ngf": args.ngf,
        "batch": args.batch,
        "corr_per_pair": args.corr,
        "hypotheses": args.hypotheses,
        "corr_step_images_per_s": round(corr_ips, 2),
        "depth_step_images_per_s": round(depth_ips, 2),
        "corr_overhead": round(results["corr"] / results["depth"] - 1, 4),
        "loader_images_per_s": round(loader_ips, 1),
        "loader_over_step": round(loader_ips / corr_ips, 2),
    }
    print(
        f"corr step {corr_ips:.1f} img/s, depth step {depth_ips:.1f} img/s -> overhead "
        f"{100 * report['corr_overhead']:.1f} % (target <= 10 %); loader {loader_ips:.0f} img/s = "
        f"{report['loader_over_step']:.1f}x the corr step (target >= 2x)",
        file=sys.stderr,
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
