"""A run's logs: ``RUN/train.csv`` (one row per step), ``RUN/val.csv`` (one row per validation)
and TensorBoard events in ``RUN/tb/``, written by the main process only. On resume the CSV files
are rewritten up to the resumed step, so the log of a resumed run is that of an uninterrupted one."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

TRAIN_FIELDS = [
    "step",
    "epoch",
    "loss",
    "corr_loss",
    "depth_loss",
    "mask_loss",
    "center_loss",
    "corr_error_px",
    "lr",
    "images_per_s",
]
VAL_FIELDS = ["step", "epoch", "val_corr_error_px", "val_loss", "best"]


def _log_row_ok(row: dict[str, Any], fields) -> bool:
    """A CSV log row as ``Logs`` writes it: exactly the fields, an integer step, numbers or blanks."""
    if None in row or any(row.get(f) is None for f in fields):
        return False
    try:
        int(row["step"])
        [float(row[f]) for f in fields if row[f] != ""]
    except ValueError:
        return False
    return True


class Logs:
    """CSV files (rewritten up to the resumed step) and TensorBoard, on the main process only
    (``enabled``); elsewhere every call does nothing."""

    def __init__(self, run: Path, start_step: int, enabled: bool):
        self.enabled, self.files, self.tb = enabled, {}, None
        if not enabled:
            return
        for name, fields in (("train", TRAIN_FIELDS), ("val", VAL_FIELDS)):
            path = run / f"{name}.csv"
            rows = []
            if path.exists():
                with open(path, newline="") as fh:
                    read = list(csv.DictReader(fh))
                rows = [r for r in read if _log_row_ok(r, fields) and int(r["step"]) <= start_step]
                junk = sum(not _log_row_ok(r, fields) for r in read)
                if junk:
                    log.warning("%s: dropped %d unreadable row(s) while resuming", path, junk)
            fh = open(path, "w", newline="")
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
            fh.flush()
            self.files[name] = (fh, writer)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=start_step + 1 if start_step else None)
        except ImportError:
            log.warning("tensorboard is not installed: CSV logs only (pip install 'pointkit[train]')")

    def write(self, name: str, row: dict[str, Any]) -> None:
        """One row of log ``name`` ("train": TRAIN_FIELDS, "val": VAL_FIELDS); its numbers also to TensorBoard."""
        if not self.enabled:
            return
        fh, writer = self.files[name]
        writer.writerow(row)
        fh.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch", "best") and v is not None and v != "":
                    self.tb.add_scalar(f"{name}/{k}", float(v), int(row["step"]))

    def close(self) -> None:
        for fh, _ in self.files.values():
            fh.close()
        if self.tb is not None:
            self.tb.close()
