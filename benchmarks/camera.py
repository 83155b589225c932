"""Batched affine-camera fit + correspondence loss vs a per-pair Python loop doing the same work.

For B pairs of N correspondences and H RANSAC hypotheses, times forward + backward of
``correspondence_loss`` (RANSAC on) for the whole batch at once, and for the same pairs one at a
time in a Python loop; prints median ms (>= 10 timed runs after 3 warm-ups), the peak memory of
each (CUDA allocator peak on a GPU; peak RSS growth on a Linux CPU) and the ratio.

Usage: python benchmarks/camera.py [--device cpu|cuda] [--n 50 1000 10000] [--batch 64] [--hypotheses 256] [--threads T]
Targets (issue 2): >= 20x faster than the loop on CPU at B=64, N=1000; on an H100/H200 <= 5 ms at
B=64, N=1000 and memory O(B·N·H).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import torch
from timing import median_time  # benchmarks/timing.py


def make_batch(B: int, N: int, device: str, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    S = 256
    depth = torch.rand(B, 1, S, S, generator=g).to(device).requires_grad_(True)
    src = torch.rand(B, N, 2, generator=g) * S  # made on the CPU (the generator's device), then moved
    tgt = src + 5 * torch.randn(B, N, 2, generator=g)
    return depth, src.to(device), tgt.to(device)


def step(depth, src, tgt, hypotheses: int, batched: bool):
    from pointkit.losses import correspondence_loss

    depth.grad = None
    if batched:
        loss = correspondence_loss(
            depth, src, tgt, tau=10.0, hypotheses=hypotheses, generator=torch.Generator(depth.device).manual_seed(0)
        )
    else:  # the same work, pair by pair
        loss = (
            sum(
                correspondence_loss(
                    depth[b : b + 1],
                    src[b : b + 1],
                    tgt[b : b + 1],
                    tau=10.0,
                    hypotheses=hypotheses,
                    generator=torch.Generator(depth.device).manual_seed(b),
                )
                for b in range(depth.shape[0])
            )
            / depth.shape[0]
        )
    loss.backward()


def measure(B, N, H, device, batched, repeats) -> float:
    """Median ms of one forward + backward step."""
    depth, src, tgt = make_batch(B, N, device)
    return 1e3 * median_time(
        lambda: step(depth, src, tgt, H, batched),
        repeats,
        warmup=3,
        sync=torch.cuda.synchronize if device == "cuda" else None,
    )


def _rss_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field + ":"))


def peak_memory_mb(B, N, H, device, batched) -> float:
    """Peak extra memory of one step: the CUDA allocator's peak, or on Linux CPUs the peak RSS
    growth (the kernel's high-water mark, reset through /proc/self/clear_refs) measured in a child
    process whose malloc returns every large block to the kernel (MALLOC_MMAP_THRESHOLD_), so
    memory kept by the allocator from earlier steps does not hide the step's own peak."""
    if device == "cuda":
        depth, src, tgt = make_batch(B, N, device)
        step(depth, src, tgt, H, batched)
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        step(depth, src, tgt, H, batched)
        return (torch.cuda.max_memory_allocated() - base) / 2**20
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    out = subprocess.run(
        [sys.executable, __file__, "--_memory-child", f"{B},{N},{H},{int(batched)}"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return float(out.stdout.strip())


def _memory_child(spec: str) -> None:
    B, N, H, batched = (int(x) for x in spec.split(","))
    torch.set_num_threads(1)
    depth, src, tgt = make_batch(B, N, "cpu")
    step(depth, src, tgt, H, bool(batched))  # first call: lazy initialisations are not the step's memory
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    base = _rss_kb("VmRSS")
    step(depth, src, tgt, H, bool(batched))
    print((_rss_kb("VmHWM") - base) / 1024)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--n", type=int, nargs="+", default=[50, 1000, 10000])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--hypotheses", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--_memory-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._memory_child:
        return _memory_child(args._memory_child)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
    print(f"# device: {name}; B={args.batch}, H={args.hypotheses}; median of {args.repeats} runs after 3 warm-ups")
    print(f"{'N':>6} {'batched ms':>11} {'loop ms':>9} {'speed-up':>9} {'batched MB':>11} {'loop MB':>8}")
    for N in args.n:
        # The loop at N=10000 is slow on a CPU: fewer repeats there, still a median.
        reps = args.repeats if N <= 1000 or args.device == "cuda" else max(3, args.repeats // 3)
        tb = measure(args.batch, N, args.hypotheses, args.device, True, args.repeats)
        tl = measure(args.batch, N, args.hypotheses, args.device, False, reps)
        mb = peak_memory_mb(args.batch, N, args.hypotheses, args.device, True)
        ml = peak_memory_mb(args.batch, N, args.hypotheses, args.device, False)
        print(f"{N:>6} {tb:>11.1f} {tl:>9.1f} {tl / tb:>8.1f}x {mb:>11.0f} {ml:>8.0f}")
        print(
            json.dumps(
                {
                    "device": name,
                    "B": args.batch,
                    "N": N,
                    "H": args.hypotheses,
                    "batched_ms": round(tb, 2),
                    "loop_ms": round(tl, 2),
                    "speedup": round(tl / tb, 2),
                    "batched_peak_mb": round(mb, 1),
                    "loop_peak_mb": round(ml, 1),
                }
            ),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
