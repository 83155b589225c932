"""Score LiftNet candidates by issue 20's shipping rule, beside the shipped default.

For each checkpoint (and the shipped default, always) it runs ``real_scans.py`` and
``real_photos.py`` (their JSON kept in ``--out``, re-used when already there) and prints one table:
mask IoU per background type, real-scan ls / flat over all backgrounds, the dino, temple and
fountain "all points: affine / flat" medians, and the rule's **aggregate**, the geometric mean of
those four depth ratios (below 1 = better than flat). A candidate may replace the default when its
aggregate is lower and its IoU is no lower on any background type (and the demo's turntable,
checked by eye, is recognisably the statue).

    .venv/bin/python benchmarks/candidates.py [NAME=]CHECKPOINT ... [--out DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETS = ("dino", "temple", "fountain")
BACKGROUNDS = ("black", "white", "rooms", "outdoors")


def _run(script: str, checkpoint: str | None, out: Path, extra: list[str]) -> dict:
    """The JSON of one harness run, made now unless ``out`` already holds it."""
    if not out.is_file():
        cmd = [sys.executable, str(HERE / script), "--json", str(out), *extra]
        if checkpoint is not None:
            cmd += ["--checkpoint", checkpoint]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)  # an argument list: no shell, any path
    return json.loads(out.read_text())


def score(name: str, checkpoint: str | None, out: Path, threads: int) -> dict:
    """The rule's numbers for one checkpoint (None: the shipped default)."""
    scans = _run(
        "real_scans.py",
        checkpoint,
        out / f"{name}.scans.json",
        ["--threads", str(threads), "--cache", str(out / "scan-views.npz")],
    )["summary"]
    photos = _run("real_photos.py", checkpoint, out / f"{name}.photos.json", [])["sets"]
    row = {"name": name, "checkpoint": checkpoint or "shipped default", "scan_ls": scans["all"]["ls_vs_flat"]}
    row.update({f"iou_{b}": scans[b]["iou"] for b in BACKGROUNDS})
    for s, rep in zip(SETS, photos):
        row[s] = rep["summary_median"]["all_affine_ratio"]
    ratios = [row["scan_ls"]] + [row[s] for s in SETS]
    row["aggregate"] = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    return row


def table(rows: list[dict]) -> str:
    base = rows[0]
    head = "| model | IoU black / white / rooms / outdoors | scan ls / flat | dino | temple | fountain | aggregate | rule |"
    lines = [head, "|---" * 8 + "|"]
    for r in rows:
        ious = " / ".join(f"{r[f'iou_{b}']:.3f}" for b in BACKGROUNDS)
        ok = r["aggregate"] < base["aggregate"] and all(r[f"iou_{b}"] >= base[f"iou_{b}"] for b in BACKGROUNDS)
        verdict = "default" if r is base else ("passes" if ok else "fails")
        lines.append(
            f"| {r['name']} | {ious} | {r['scan_ls']:.3f} | {r['dino']:.3f} | {r['temple']:.3f} "
            f"| {r['fountain']:.3f} | **{r['aggregate']:.3f}** | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("checkpoints", nargs="*", help="[NAME=]PATH of each candidate")
    ap.add_argument("--out", default="out/candidates", help="folder of the harness JSON (re-used)")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads for the real-scan test")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    named = [("default", None)] + [tuple(c.split("=", 1)) if "=" in c else (Path(c).stem, c) for c in args.checkpoints]
    rows = []
    for name, ckpt in named:
        rows.append(score(name, ckpt, out, args.threads))
        print(f"scored {name}", file=sys.stderr)
    print(table(rows))
    (out / "table.md").write_text(table(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
