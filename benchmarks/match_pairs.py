"""How many view pairs ``pointkit match`` keeps on the calibrated photo sets, and how right they are.

For each set (Middlebury dino and temple, 16 photos each; fountain-P11, 11 photos) the photos are
matched as ``pointkit adapt`` matches them (``build_matched_dataset``, one cluster; ``--option
KEY=VALUE`` changes a ``MatchSettings`` field), and every kept correspondence is scored against
the true cameras: its symmetric epipolar distance (``pkbench.realeval``), in pixels of the
original photo. The table gives the pairs kept (unordered, of all), the correspondences, and the
median and 90th percentile distance over the kept pairs' correspondences, and the pairs whose own
median is over 2 px (wrongly kept).

    .venv/bin/python benchmarks/match_pairs.py [--sets dino,temple,fountain] [--option min_matches=12 ...]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pkbench import realeval  # noqa: E402
from pointkit.data.format import Dataset  # noqa: E402
from pointkit.match import MatchSettings, build_matched_dataset  # noqa: E402


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def score_set(name: str, settings: MatchSettings, work: Path) -> dict:
    """Match the set's photos into ``work`` and score the kept correspondences (module doc)."""
    photos = realeval.load_photo_set(name, max_side=10**6)  # the cameras of the original photos
    links = work / name / "photos" / name
    links.mkdir(parents=True)
    for path in photos.images:
        (links / path.name).symlink_to(Path(path).resolve())
    t0 = time.perf_counter()
    summary = build_matched_dataset(links.parent, work / name / "matched", settings, progress=False)
    seconds = time.perf_counter() - t0
    index = {p.name: i for i, p in enumerate(photos.images)}
    errors, pair_medians = [], []
    if summary["pairs_kept"]:
        ds = Dataset.open(work / name / "matched")
        for oid in ds.split("all"):
            rec, meta = ds.read(oid), ds.objects[oid]["views"]  # views: file, size, letterbox scale / offset
            for p, (a, b) in enumerate(rec.pairs):
                if a > b:
                    continue  # each unordered pair once (both directions are stored)
                ua, ub = rec.correspondences(p)
                ma, mb = meta[a], meta[b]
                xa = (ua - np.array(ma["offset"])) / np.array(ma["scale"]) - 0.5  # OpenCV's pixel centres
                xb = (ub - np.array(mb["offset"])) / np.array(mb["scale"]) - 0.5
                ca, cb = photos.cameras[index[ma["file"]]], photos.cameras[index[mb["file"]]]
                d = realeval.symmetric_epipolar_distance(realeval.fundamental(ca, cb), xa, xb)
                errors.append(d)
                pair_medians.append(float(np.median(d)))
    all_err = np.concatenate(errors) if errors else np.array([np.nan])
    n = len(photos.images)
    return {
        "set": name,
        "kept": summary["pairs_kept"],
        "pairs": n * (n - 1) // 2,
        "correspondences": int(sum(len(e) for e in errors)),
        "median_px": float(np.median(all_err)),
        "p90_px": float(np.percentile(all_err, 90)),
        "wrong_pairs": int(sum(m > 2 for m in pair_medians)),
        "seconds": seconds,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sets", default=",".join(realeval.SETS))
    ap.add_argument("--option", action="append", default=[], metavar="KEY=VALUE", help="a MatchSettings field")
    args = ap.parse_args(argv)
    options = dict(o.split("=", 1) for o in args.option)
    settings = MatchSettings(**{k: _value(v) for k, v in options.items()})
    print(f"match settings changed: {options or 'none'}\n")
    print("| set | pairs kept | correspondences | median epipolar px | p90 px | pairs with median > 2 px | s |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            r = score_set(name, settings, Path(tmp))
            print(
                f"| {r['set']} | {r['kept']} of {r['pairs']} | {r['correspondences']} | {r['median_px']:.2f} "
                f"| {r['p90_px']:.2f} | {r['wrong_pairs']} | {r['seconds']:.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
