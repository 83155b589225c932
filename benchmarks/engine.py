"""Torch sample engine (pointkit.engine) throughput next to the fast renderer, in the same run.

One item = one ordered view pair with ``--corr`` correspondences at R x R (what training eats):
- engine: ``SynthStream.next_batch(batch)`` on the current device (CUDA when present): traces
  two views per item (source + target), shades the source, draws the correspondences;
- fast: ``render_views(mesh, 2 views, R, renderer="fast")`` of a procedural sculpture plus
  ``gt_correspondences(max_points=corr)`` of the pair (the mesh is given, not generated).
With ``--bank FILE`` (a ``render-synthetic --bank`` file, shapes and photo-style assets; for a
machine with torch only, e.g. a GPU machine) the baseline is instead the same engine on this
machine's CPU (all cores) with the same bank.
Reported as items/s and views/s (2 views per item) for both, and engine / baseline as a ratio.
Median of ``--runs`` timed runs after ``--warmup`` warm-ups. With ``--bank-shapes N`` it also
builds N sculpture SDFs and reports compressed bank bytes per shape (int8 / float16, G = 48 / 64).

Usage: python benchmarks/engine.py [--resolution 128] [--corr 200] [--batch 16] [--runs 10]
                                   [--warmup 3] [--shapes 8] [--bank-shapes 0] [--threads 1]
                                   [--bank FILE] [--zoom 1]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform

import numpy as np
import torch
from timing import median_time  # benchmarks/timing.py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--corr", type=int, default=200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--shapes", type=int, default=8, help="sculptures in the engine's bank")
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--bank-shapes", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default=None)
    ap.add_argument("--bank", help="render-synthetic --bank file; baseline: the engine on this CPU")
    ap.add_argument("--zoom", type=float, default=1.0, help="SynthStream zoom (both ends)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from pointkit.engine import SynthStream, load_appearance, load_bank

    if args.bank:
        bank, appearance = load_bank(args.bank), load_appearance(args.bank)
        baseline_name = f"engine on CPU ({os.cpu_count()} threads)"
        baseline_item = _cpu_engine_item(bank, appearance, args)
    else:
        bank, appearance, baseline_item = _fast_baseline(args)
        baseline_name = "fast renderer (open3d) + gt_correspondences"
    stream = SynthStream(
        bank,
        input_size=args.resolution,
        corr_per_pair=args.corr,
        device=args.device,
        appearance=appearance,
        zoom=(args.zoom, args.zoom),
    )
    dev = stream.device
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    name = (
        torch.cuda.get_device_name(dev)
        if dev.type == "cuda"
        else f"CPU ({platform.processor() or platform.machine()}, {args.threads} thread)"
    )
    g = stream.generator(0)
    t_engine = median_time(lambda: stream.next_batch(args.batch, g), args.runs, args.warmup, sync) / args.batch
    baseline_fn, baseline_items = baseline_item
    # The baseline is slow (a CPU): fewer runs.
    t_base = median_time(baseline_fn, max(2, args.runs // 3), 1) / baseline_items
    batch = stream.next_batch(args.batch, g)
    result = {
        "device": str(dev),
        "device_name": name,
        "resolution": args.resolution,
        "corr": args.corr,
        "batch": args.batch,
        "grid": bank.grid,
        "shapes": len(bank),
        "runs": args.runs,
        "warmup": args.warmup,
        "engine_items_per_s": round(1 / t_engine, 2),
        "engine_views_per_s": round(2 / t_engine, 2),
        "baseline": baseline_name,
        "baseline_items_per_s": round(1 / t_base, 2),
        "baseline_views_per_s": round(2 / t_base, 2),
        "engine_over_baseline_speed": round(t_base / t_engine, 3),
        "mean_valid_corr": round(float(batch["valid"].sum(1).float().mean()), 1),
    }

    if args.bank_shapes:
        from pointkit.engine import ShapeBank, mesh_to_sdf
        from pointkit.render import sculpture

        grids = {g_: np.stack([mesh_to_sdf(sculpture(1, i), g_) for i in range(args.bank_shapes)]) for g_ in (48, 64)}
        for g_, arr in grids.items():
            for dtype in ("int8", "float16"):
                buf = io.BytesIO()
                data = ShapeBank.from_grids(arr, dtype=dtype).data.numpy()
                np.savez_compressed(buf, sdf=data)
                result[f"bank_bytes_per_shape_{dtype}_g{g_}"] = round(buf.tell() / len(arr))
                result[f"bank_MB_300_shapes_{dtype}_g{g_}"] = round(300 * buf.tell() / len(arr) / 2**20, 1)
    print(json.dumps(result))


def _fast_baseline(args):
    """A bank of ``args.shapes`` sculptures, no appearance, and (one item of the fast renderer on the
    same meshes, 1)."""
    from pointkit.engine import ShapeBank, mesh_to_sdf
    from pointkit.geometry import gt_correspondences
    from pointkit.render import render_views, sculpture

    meshes = [sculpture(0, i) for i in range(args.shapes)]
    bank = ShapeBank.from_grids(np.stack([mesh_to_sdf(m, args.grid) for m in meshes]), dtype="int8")
    state = {"i": 0}

    def fast_item():
        mesh = meshes[state["i"] % len(meshes)]
        state["i"] += 1
        views = render_views(mesh, [(30.0, 10.0), (70.0, 20.0)], args.resolution, renderer="fast", seed=state["i"])
        gt_correspondences(views[0], views[1], max_points=args.corr, seed=state["i"])

    return bank, None, (fast_item, 1)


def _cpu_engine_item(bank, appearance, args):
    """(one batch of the same engine on the CPU with all cores, items per batch)."""
    from pointkit.engine import SynthStream

    cpu = SynthStream(
        bank,
        input_size=args.resolution,
        corr_per_pair=args.corr,
        device="cpu",
        appearance=appearance,
        zoom=(args.zoom, args.zoom),
    )
    g = cpu.generator(0)
    threads = os.cpu_count() or 1

    def item():
        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            cpu.next_batch(args.batch, g)
        finally:
            torch.set_num_threads(previous)

    return item, args.batch


if __name__ == "__main__":
    main()
