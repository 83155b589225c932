"""Score a LiftNet model on real photos with true cameras (benchmarks/pkbench/realeval.py has the method).

For each set (Middlebury dinoSparseRing and templeSparseRing: all 16 images at 640x480;
fountain-P11: 6 of 11 images downscaled to 768 px) sparse true depth comes from SIFT matches with
the two neighbouring views, filtered by the true epipolar geometry and triangulated. ``lift`` is
scored at those points: coverage (share inside lift's mask), mask IoU against a thresholded
reference (black-backdrop sets only), and depth RMSE after ls / affine alignment as a ratio to a
flat depth (1 = no better than flat), beside the silhouette heuristic -sqrt(distance transform).
Cells are median (mean) over images. Reads the photos in place from ../shared/data/photos.

With ``--adapt DIR`` each set is first adapted on (``pointkit adapt`` with its default settings,
or others by ``--adapt-option KEY=VALUE``, from ``--checkpoint`` or the shipped model, on all the
set's photos through a folder of symlinks in DIR; a re-run resumes it) and then scored with its
adapted model, lift's default mask; a second table gives adapt's pairs, held-out error and time
(issue 21's harness).

    .venv/bin/python benchmarks/real_photos.py [--checkpoint PATH] [--sets dino,temple,fountain] [--json OUT]
                                               [--adapt DIR [--adapt-option KEY=VALUE ...]]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pkbench import realeval  # noqa: E402
from tqdm import tqdm  # noqa: E402

from pointkit.adapt import AdaptConfig, adapt  # noqa: E402

DEFAULT_IMAGES = {"fountain": [0, 2, 4, 6, 8, 10]}


def adapt_on(photos: realeval.PhotoSet, base: str | None, folder: Path, options: dict | None = None) -> dict:
    """``pointkit adapt`` on every photo of the set, with its defaults but for ``options``
    (``AdaptConfig`` fields): ``folder / "photos" / name`` holds symlinks to them (adapt wants one
    sub-folder per object). Returns adapt's summary and its wall time."""
    links = folder / "photos" / photos.name
    links.mkdir(parents=True, exist_ok=True)
    for path in photos.images:
        if not (links / path.name).exists():
            (links / path.name).symlink_to(Path(path).resolve())
    t0 = time.perf_counter()
    cfg = AdaptConfig(
        photos=str(folder / "photos"), out=str(folder / "adapted"), init=base or "default", **(options or {})
    )
    summary = adapt(cfg)
    return {**summary, "seconds": time.perf_counter() - t0}


def adapt_table(runs: dict[str, dict]) -> str:
    lines = ["| set | pairs kept / train / held out | held-out error (px) | best step | mask head | seconds |",
             "|---|---|---|---|---|---:|"]  # fmt: skip
    for name, a in runs.items():
        m, p = a["match"], a["pairs"]
        lines.append(
            f"| {name} | {m['pairs_kept']} of {m['pairs_kept'] + m['pairs_rejected']} / {p['train_pairs']} / "
            f"{p['heldout_pairs']} | {a['heldout_error_before_px']:.3f} -> {a['heldout_error_after_px']:.3f} | "
            f"{a['best_step']} | {'trusted' if p['head_trusted'] else 'untrusted (GrabCut)'} | {a['seconds']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None, help="LiftNet checkpoint (default: the shipped model)")
    ap.add_argument("--sets", default=",".join(realeval.SETS), help="comma-separated: dino,temple,fountain")
    ap.add_argument("--photos", default=os.environ.get("POINTKIT_PHOTOS", str(realeval.PHOTOS)))
    ap.add_argument("--all-images", action="store_true", help="every fountain image, not 6")
    ap.add_argument("--neighbours", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default=None, help="write per-image rows and summaries here")
    ap.add_argument("--adapt", default=None, metavar="DIR", help="adapt on each set first, in DIR/<set> (resumes)")
    ap.add_argument(
        "--adapt-option", action="append", default=[], metavar="KEY=VALUE", help="an AdaptConfig field (steps=600)"
    )
    args = ap.parse_args(argv)
    if not Path(args.photos).is_dir():
        print(f"photo sets not found at {args.photos}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    reports, adapted = [], {}
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        photos = realeval.load_photo_set(name, args.photos)
        images = None if args.all_images else DEFAULT_IMAGES.get(name)
        checkpoint = args.checkpoint
        if args.adapt:
            options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.adapt_option)}
            adapted[name] = adapt_on(photos, args.checkpoint, Path(args.adapt) / name, options)
            checkpoint = adapted[name]["out"]
        reports.append(
            realeval.evaluate_set(
                photos,
                checkpoint,
                images,
                args.neighbours,
                args.device,
                progress=lambda it, desc: tqdm(it, desc=desc, file=sys.stderr),
            )
        )
    elapsed = time.perf_counter() - t0
    print(
        f"checkpoint: {args.checkpoint or 'shipped default'}{', adapted on each set' if adapted else ''}; "
        "cells: median (mean) over images; "
        f"ratios: aligned depth RMSE / flat depth's (1 = flat, 0 = exact)\n"
    )
    print(realeval.markdown_table(reports))
    if adapted:
        print(f"\nadapted on each set from {args.checkpoint or 'the shipped default'} (pointkit adapt, defaults):\n")
        print(adapt_table(adapted))
    print(f"\n{elapsed:.1f} s")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "checkpoint": args.checkpoint,
                    "adapt": adapted,
                    "seconds": elapsed,
                    "sets": [
                        {
                            "summary_median": r.summary(),
                            "summary_mean": r.summary(__import__("numpy").nanmean),
                            "rows": r.rows,
                        }
                        for r in reports
                    ],
                },
                indent=1,
                default=float,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
