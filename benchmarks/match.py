"""Benchmark ``pointkit match``: pairs/s on CPU at 1024-px photos vs plain OpenCV SIFT + ratio test.

Both sides start from the same N 1024-px photos on disk (fountain-P11, downscaled once into a
temporary folder) and do every pair of one cluster:

* baseline: read each photo, OpenCV SIFT (same max_features), BFMatcher knnMatch(k=2) + Lowe's
  ratio test one way per pair -- matching alone, no geometry, nothing written;
* pointkit: ``build_matched_dataset`` end to end (mutual NN + ratio, affine-F RANSAC + Gold
  Standard, affine-map RANSAC + GRIC, letterbox, object file, report, preview).

Reports the median of --runs timed runs after --warmup runs, the ratio, and a per-stage breakdown
of pointkit (median of 3 runs) measured by calling its functions directly.

    .venv/bin/python benchmarks/match.py [--images 4] [--runs 10] [--warmup 3]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pointkit.match import MatchSettings, build_matched_dataset  # noqa: E402
from pointkit.match.features import detect, match_descriptors, read_image  # noqa: E402
from pointkit.match.geometry import gric, ransac_affine_f, ransac_affine_map  # noqa: E402
from pointkit.match.pipeline import _letterbox  # noqa: E402
from timing import run_times  # benchmarks/timing.py

PHOTOS = (
    Path(os.environ.get("POINTKIT_SHARED_DATA", REPO.parent / "shared" / "data")) / "photos" / "fountain-P11" / "images"
)


def baseline(files: list[Path], max_features: int, ratio: float) -> int:
    sift = cv2.SIFT_create(nfeatures=max_features)
    desc = [sift.detectAndCompute(cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), None)[1] for f in files]
    bf, kept = cv2.BFMatcher(cv2.NORM_L2), 0
    for a, b in itertools.combinations(desc, 2):
        kept += sum(1 for m in bf.knnMatch(a, b, k=2) if len(m) == 2 and m[0].distance < ratio * m[1].distance)
    return kept


def breakdown(files: list[Path], s: MatchSettings) -> dict[str, float]:
    """Seconds per stage of one pointkit run over all pairs, by calling the stages directly."""
    t: dict[str, float] = {}

    def clock(name, fn, *args):
        t0 = time.perf_counter()
        r = fn(*args)
        t[name] = t.get(name, 0.0) + time.perf_counter() - t0
        return r

    imgs = [clock("read", read_image, f) for f in files]
    feats = [clock("sift", detect, im, s.features, s.max_size, s.max_features) for im in imgs]
    for (i, a), (j, b) in itertools.combinations(enumerate(feats), 2):
        m = clock("match (mutual + ratio)", match_descriptors, a.desc, b.desc, s.ratio)
        x1, x2 = a.uv[m[:, 0]] * a.scale, b.uv[m[:, 1]] * b.scale
        rng = np.random.default_rng([0, i, j])
        f = clock("affine F RANSAC + refit", ransac_affine_f, x1, x2, s.threshold, rng)
        h = clock("affine map RANSAC + GRIC", ransac_affine_map, x1, x2, s.threshold, rng)
        sigma = max(1.4826 * float(np.median(f.errors[f.inliers])), 0.05)
        clock("affine map RANSAC + GRIC", lambda: (gric(f.errors, sigma, 3, 4), gric(h.errors, sigma, 2, 6)))
    for im in imgs:
        clock("letterbox", _letterbox, im, np.ones(im.shape[:2], bool), s.resolution)
    return t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    if not PHOTOS.is_dir():
        sys.exit(f"needs the fountain-P11 photos at {PHOTOS}")
    s = MatchSettings()
    with tempfile.TemporaryDirectory() as tmp:
        cluster = Path(tmp) / "photos" / "fountain"
        cluster.mkdir(parents=True)
        for f in sorted(PHOTOS.glob("*.jpg"))[: args.images]:
            im = cv2.imread(str(f))
            h, w = im.shape[:2]
            k = 1024 / max(h, w)
            cv2.imwrite(
                str(cluster / f.name),
                cv2.resize(im, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA),
                [cv2.IMWRITE_JPEG_QUALITY, 95],
            )
        files = sorted(cluster.iterdir())
        n_pairs = len(files) * (len(files) - 1) // 2
        tb = run_times(lambda: baseline(files, s.max_features, s.ratio), args.runs, args.warmup)
        tp = run_times(
            lambda: build_matched_dataset(cluster.parent, Path(tmp) / "out", s, progress=False), args.runs, args.warmup
        )
        runs = [breakdown(files, s) for _ in range(3)]
        stages = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        kept = build_matched_dataset(cluster.parent, Path(tmp) / "out", s, progress=False)["pairs_kept"]
    mb, mp = statistics.median(tb), statistics.median(tp)
    print(
        f"CPU, cv2 threads {cv2.getNumThreads()}, {len(files)} photos at 1024 px, {n_pairs} pairs "
        f"(median of {args.runs} after {args.warmup} warm-ups)"
    )
    print(f"baseline  SIFT + ratio test:  {n_pairs / mb:6.2f} pairs/s  ({mb:.3f} s)")
    print(f"pointkit match (end to end):  {n_pairs / mp:6.2f} pairs/s  ({mp:.3f} s), {kept} pairs kept")
    print(f"ratio pointkit / baseline throughput: {mb / mp:.2f}")
    total = sum(stages.values())
    print("where pointkit's time goes (median of 3 runs, stages called directly):")
    for name, sec in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<28} {sec:7.3f} s  {100 * sec / mp:5.1f} %")
    print(
        f"  {'rest (npz, report, preview)':<28} {mp - total:7.3f} s  {100 * (mp - total) / mp:5.1f} %  "
        "(end-to-end median minus the stages)"
    )


if __name__ == "__main__":
    main()
