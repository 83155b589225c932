"""Checkpoints of a training run: the metadata of its LiftNet files (``model_metadata``), and the
resumable training state, one safetensors file of tensors plus one JSON file that names it.

``RUN/state-<step>.safetensors`` holds the model state (``model.*``), the optimiser's tensors
(``optim.<param>.<name>``) and the torch RNG states (``rng.*``). ``RUN/state.json`` holds the step,
epoch, early-stopping record, the optimiser's non-tensor settings, the config, and the name of the
tensor file. Both are written atomically and the JSON last, so a kill -9 at any moment leaves the
previous complete checkpoint (older tensor files are deleted only after the JSON moved on).

The checkpoint before the latest is kept too (``RUN/state-previous.json`` and its tensor file):
when the latest one cannot be read (a truncated file, a disk error), ``load_state`` resumes from
the previous one with a warning, losing at most two checkpoint intervals instead of the run.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from pointkit import __version__
from pointkit.errors import PointkitError
from pointkit.io import atomic_path, write_bytes_atomic, write_json_atomic
from pointkit.training.config import TrainConfig

STATE_JSON = "state.json"
PREVIOUS_JSON = "state-previous.json"


def model_metadata(cfg: TrainConfig, model_cfg, step: int, val_error: float | None, datasets) -> dict[str, Any]:
    """The metadata of a LiftNet checkpoint the run writes (best / last / step-NNNNNN.safetensors):
    how it was trained, at which step, with which validation error (None: not validated)."""
    return {
        "trained_with": cfg.loss,
        "ssi_weight": cfg.ssi_weight if cfg.loss == "corr+ssi" else None,
        "input_size": model_cfg.input_size,
        "mask_head": model_cfg.mask_head,
        # lift's auto mask uses the head only when this run trained it: an untrained head, or one
        # left behind while a fine-tune moved the shared trunk, gives plausible-looking blobs.
        "mask_head_trusted": bool(model_cfg.mask_head and cfg.mask_weight > 0),
        "mask_weight": cfg.mask_weight,
        "prior": model_cfg.prior,
        "prior_dropout": cfg.prior_dropout,
        "step": step,
        "val_corr_error_px": val_error,
        "robust": cfg.robust,
        "ransac": cfg.ransac,
        "center_weight": cfg.center_weight,
        "corr_per_pair": cfg.corr_per_pair,
        "datasets": [str(d.root) for d in datasets],
        "synth": cfg.synth,
        "pointkit_version": __version__,
        "depth_convention": "up to d -> a*d + b*u + c*v + e (tanh output)",
    }


def _optimizer_split(opt_state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, plain = {}, {"param_groups": opt_state["param_groups"], "state": {}}
    for pid, entry in opt_state["state"].items():
        plain["state"][str(pid)] = {}
        for name, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{pid}.{name}"] = value.detach().cpu().contiguous()
            else:
                plain["state"][str(pid)][name] = value
    return tensors, plain


def _optimizer_join(tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    state: dict[int, dict] = {int(pid): dict(v) for pid, v in plain["state"].items()}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = value
    return {"param_groups": plain["param_groups"], "state": state}


def save_state(run: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, info: dict[str, Any]) -> Path:
    """Write the resumable state of step ``info["step"]`` (see module doc); returns the JSON path."""
    step = int(info["step"])
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_tensors, opt_plain = _optimizer_split(optimizer.state_dict())
    tensors.update(opt_tensors)
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    name = f"state-{step:09d}.safetensors"
    with atomic_path(run / name) as tmp:
        save_file(tensors, str(tmp))
    keep = {name}
    if (run / STATE_JSON).is_file():
        latest = (run / STATE_JSON).read_text()
        write_bytes_atomic(run / PREVIOUS_JSON, latest.encode())
        keep.add(json.loads(latest).get("tensors", ""))
    write_json_atomic(run / STATE_JSON, {**info, "tensors": name, "optimizer": opt_plain})
    for old in run.glob("state-*.safetensors"):
        if old.name not in keep:
            old.unlink(missing_ok=True)
    return run / STATE_JSON


def _read_state(run: Path, json_name: str) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        info = json.loads((run / json_name).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise PointkitError(f"{run / json_name}: unreadable ({exc})") from None
    tensor_path = run / str(info.get("tensors"))
    try:
        tensors = load_file(str(tensor_path))
        info["optimizer"], tensors["rng.cpu"]
    except (OSError, KeyError, TypeError, SafetensorError) as exc:
        raise PointkitError(f"{tensor_path}: unreadable training state ({exc})") from None
    return info, tensors


def load_state(
    run: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> dict[str, Any]:
    """Restore model, optimiser and RNG states from ``run`` (the latest checkpoint, else the one
    before it, with a warning); returns the saved info (step, epoch ...)."""
    try:
        info, tensors = _read_state(run, STATE_JSON)
    except PointkitError as latest:
        if not (run / PREVIOUS_JSON).is_file():
            raise PointkitError(f"{latest}; start a new run with another --out") from None
        try:
            info, tensors = _read_state(run, PREVIOUS_JSON)
        except PointkitError as previous:
            raise PointkitError(
                f"{latest}; the checkpoint before it too: {previous}; start a new run with another --out"
            ) from None
        logging.getLogger(__name__).warning(
            "%s; resuming from the checkpoint before it (step %s)", latest, info["step"]
        )
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    optimizer.load_state_dict(_optimizer_join({k: v.to(device) for k, v in tensors.items()}, info["optimizer"]))
    torch.set_rng_state(tensors["rng.cpu"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return info
