"""The run folder and its identity: whether ``--out`` may be (re)used, and ``RUN/run.json``.

A new run needs an empty or missing folder. ``--resume`` needs the folder's ``run.json`` and the
same settings, except RESUMABLE_CHANGES; inputs (INPUT_PATHS) match by identity, so a run folder
or a dataset may move or be spelled otherwise between the parts of a run.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from pointkit import __version__
from pointkit.errors import PointkitError
from pointkit.io import write_json_atomic
from pointkit.jobs.settings import save as save_config
from pointkit.training.config import RESUMABLE_CHANGES, ModelSettings, TrainConfig, nest_model_settings

if TYPE_CHECKING:
    from pointkit.training.sources import PairSource

INPUT_PATHS = ("datasets", "synth", "init")
"""Config entries that name inputs: on resume they match by identity, not spelling. ("out", the
run folder itself, may move or be spelled otherwise freely.)"""


def _identity(path: str) -> str:
    """What a training input is, whatever its spelling or place: a dataset folder's manifest bytes
    or a file's bytes (sha256); the resolved path when it cannot be read."""
    p = Path(path)
    target = p / "manifest.json" if p.is_dir() else p
    try:
        return hashlib.sha256(target.read_bytes()).hexdigest()
    except OSError:
        return str(p.resolve())


def _as_list(value) -> list[str]:
    return [] if value is None else ([value] if isinstance(value, str) else list(value))


def input_identities(cfg: TrainConfig) -> dict[str, list[str]]:
    """``_identity`` of every input of INPUT_PATHS (saved in run.json to recognise them on resume)."""
    return {k: [_identity(x) for x in _as_list(getattr(cfg, k))] for k in INPUT_PATHS}


def _same_inputs(old, new, saved_ids: list[str] | None) -> bool:
    """Whether the config values ``old`` (saved) and ``new`` of an INPUT_PATHS entry name the same
    inputs: equal, the same resolved paths, or the same content as recorded at the start of the run
    (``saved_ids``; a moved or re-spelled dataset, bank or checkpoint)."""
    if old == new:
        return True
    a, b = _as_list(old), _as_list(new)
    if len(a) != len(b):
        return False
    ids = saved_ids if saved_ids is not None and len(saved_ids) == len(a) else [_identity(x) for x in a]
    return all(x == y or Path(x).resolve() == Path(y).resolve() or i == _identity(y) for x, y, i in zip(a, b, ids))


def check_run_folder(run: Path, cfg: TrainConfig) -> dict | None:
    """The saved run.json of ``run`` when resuming it (None for a new run); PointkitError when the
    folder holds another run, something else, or a run of other settings."""
    saved_path = run / "run.json"
    if not saved_path.exists():
        if run.exists() and any(run.iterdir()) and not cfg.resume:
            raise PointkitError(f"{run}: folder is not empty and holds no pointkit run; choose a new --out")
        return None
    if not cfg.resume:
        raise PointkitError(f"{run} holds another run; use --resume to continue it or choose a new --out")
    try:
        saved = json.loads(saved_path.read_text())
        old = saved["config"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PointkitError(
            f"{saved_path}: unreadable run record ({exc}); start a new run with another --out"
        ) from None
    old = nest_model_settings(old)
    new = json.loads(json.dumps(cfg.to_dict()))  # as saved: tuples become lists
    changed = [
        k for k in new if k not in RESUMABLE_CHANGES + INPUT_PATHS + ("out", "model") and k in old and old[k] != new[k]
    ]
    changed += [f"model.{k}" for k, v in new["model"].items() if old.get("model", {}).get(k, v) != v]
    saved_ids = saved.get("input_ids", {})
    changed += [k for k in INPUT_PATHS if k in old and not _same_inputs(old[k], new[k], saved_ids.get(k))]
    if changed:
        raise PointkitError(f"{run}: --resume with other settings ({', '.join(changed)}); use the original options")
    return saved


def write_run_record(
    run: Path, cfg: TrainConfig, model_cfg, resolved: dict[str, Any], data: PairSource, device: torch.device
) -> None:
    """``config.json`` and ``run.json``: the resolved config, versions, host, dataset manifests,
    input identities (``resolved``: lr, tau, amp, device, world_size as the run resolved them)."""
    run.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run, "train")
    write_json_atomic(
        run / "run.json",
        {
            "config": cfg.to_dict(),
            "model": {f.name: getattr(model_cfg, f.name) for f in fields(ModelSettings)},  # as resolved
            "resolved": {**resolved, "train_pairs": data.train_pairs, "val_pairs": data.val_pairs},
            "pointkit_version": __version__,
            "torch_version": torch.__version__,
            "host": {
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            },
            "datasets": [{"root": str(d.root), "manifests": d.manifests} for d in data.datasets],
            "synth": cfg.synth,
            "input_ids": input_identities(cfg),
        },
    )
