"""The scaling plot of docs/results.md ("What limits the depth"): depth / flat against training
images, on the real-scan test and on the in-domain synthetic test, one line per loss (and one for
the correspondence loss at 256 px, issue 20 (d)).

Reads docs/data/depth-scaling.csv (every scored model: real_scans.py and synthetic_depth.py
numbers) and writes docs/depth-scaling.png.

    .venv/bin/python benchmarks/scaling_plot.py [--csv docs/data/depth-scaling.csv] [--out docs/depth-scaling.png]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
STYLE = {
    "corr": ("tab:blue", "o"),
    "ssi": ("tab:orange", "s"),
    "corr+ssi": ("tab:green", "^"),
    "corr 256 px": ("tab:purple", "D"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv", default=str(REPO / "docs/data/depth-scaling.csv"))
    ap.add_argument("--out", default=str(REPO / "docs/depth-scaling.png"))
    args = ap.parse_args(argv)
    rows = list(csv.DictReader(open(args.csv)))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    panels = (("real_scan_ls_vs_flat", "real-scan test (10 held-out scans, 120 views)"),
              ("in_domain_ls_vs_flat", "in-domain test (40 unseen sculptures, 256 views)"))  # fmt: skip
    for ax, (column, title) in zip(axes, panels):
        for loss, (colour, marker) in STYLE.items():
            for same_run in (True, False):  # H200 2026-12-04 runs joined 1x -> 4x; earlier models as points
                pts = sorted(
                    (float(r["images"]), float(r[column]), r["model"])
                    for r in rows
                    if r["loss"] == loss and r[column] and (r["hardware"] == "H200 2026-12-04") == same_run
                )
                if not pts:
                    continue
                x, y, names = zip(*pts)
                label = f"{loss} (ngf 24, one run)" if same_run else f"{loss}: v1, v2, GPU-A, GPU-A+, v3"
                ax.plot(x, y, marker=marker, color=colour, linestyle="-" if same_run else "none",
                        mfc=colour if same_run else "white", label=label)  # fmt: skip
                if not same_run:
                    for xi, yi, n in zip(x, y, names):
                        ax.annotate(n.split(" ")[0], (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.axhline(0.900 if column.startswith("real") else 0.896, color="grey", ls="--", lw=1)
        ax.text(2.2e4, 0.903 if column.startswith("real") else 0.899, "silhouette heuristic", fontsize=7, color="grey")
        ax.set_xscale("log", base=2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("training pairs seen")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("depth RMSE / flat's (ls aligned; lower is better)")
    axes[1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
