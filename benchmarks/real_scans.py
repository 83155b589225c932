"""Score a LiftNet model on photographic renders of the ten test-only real scans (benchmarks/pkbench/scaneval.py).

Each of the ten scans of ../shared/data/meshes/scans that no shipped model may train on is
rendered (fast renderer, photo style, 256 px, 3 views) over each held-out background type:
black cloth, white cloth, rooms, outdoors. ``pointkit.lift`` runs on each image with its own mask;
the table gives, per background type, the mask IoU and the depth RMSE over the true mask after
ls / affine alignment as ratios to the flat depth and to the silhouette heuristic (below 1 =
better), and where lift's masks came from.

    .venv/bin/python benchmarks/real_scans.py [--checkpoint PATH] [--json OUT] [--cache VIEWS.npz]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from pkbench import scaneval  # noqa: E402

from pointkit.io import write_json_atomic  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="LiftNet checkpoint (default: the shipped model)")
    ap.add_argument("--scans", default=str(scaneval.SCANS), help="folder of the test scans")
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None, help="write the summary here")
    ap.add_argument("--cache", default=None, help="keep the rendered test views in this .npz (same images each run)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not Path(args.scans).is_dir():
        print(f"test scans not found at {args.scans}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    views = scaneval.cached_test_views(args.cache, args.scans, args.resolution, progress=True)
    summary = scaneval.evaluate_scans(views, args.checkpoint, args.device, progress=True)
    elapsed = time.perf_counter() - t0
    print(
        f"checkpoint: {args.checkpoint or 'shipped default'}; {len(views)} views at {args.resolution} px; "
        "ratios of mean RMSE over the true mask (below 1 = better)\n"
    )
    print(scaneval.markdown_table(summary))
    print(f"\n{elapsed:.1f} s")
    if args.json:
        write_json_atomic(args.json, {"checkpoint": args.checkpoint, "seconds": elapsed, "summary": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
