"""Which model lifts: a LiftNet checkpoint run by torch, or its ONNX export run by onnxruntime,
on which device; loaded once per file (cached)."""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path

from pointkit.errors import PointkitError
from pointkit.jobs.settings import check_device
from pointkit.models.catalog import DEFAULT_MODEL, checkpoint_file
from pointkit.models.onnx_model import load_export

DEFAULT_CHECKPOINT = DEFAULT_MODEL
BACKENDS = ("auto", "torch", "onnx")


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, device: str, backend: str):
    if backend != "torch" and device == "cpu":
        model = load_export(path) if backend == "onnx" or _onnxruntime_installed() else None
        if model is not None:
            return model, model.metadata
        if backend == "onnx":
            raise PointkitError(
                f"{path}: no ONNX export made from it beside it; run `pointkit export onnx {path} "
                f"--out {Path(path).with_suffix('.onnx')}`, or use --backend torch"
            )
    elif backend == "onnx":
        raise PointkitError(f"--backend onnx runs on the CPU; use --device cpu (got {device})")
    from pointkit.models import load_checkpoint  # imports torch: not on the onnxruntime path

    return load_checkpoint(path, device)


def _onnxruntime_installed() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def load_model(checkpoint: str | Path | None = None, device: str = "cpu", backend: str = "torch"):
    """``(model, metadata)`` for ``checkpoint`` (None: the default model shipped in the package).

    ``backend``: "torch" (LiftNet), "onnx" (the checkpoint's ONNX export beside it, run by
    onnxruntime on the CPU: no torch import) or "auto" (onnx when the device is the CPU and an
    export made from this very checkpoint file exists, else torch). Loaded models are cached
    (keyed on path, modification time, device and backend), so lifting a folder or calling
    :func:`pointkit.lift` repeatedly loads the weights once.
    """
    if backend not in BACKENDS:
        raise PointkitError(f"--backend {backend!r}: use one of {', '.join(BACKENDS)}")
    if checkpoint is None:
        if not DEFAULT_CHECKPOINT.is_file():
            raise PointkitError(
                f"the default model {DEFAULT_CHECKPOINT.name} is missing from this pointkit install "
                f"(not shipped yet); pass --checkpoint PATH to a LiftNet checkpoint"
            )
        checkpoint = DEFAULT_CHECKPOINT
    path = checkpoint_file(checkpoint)
    return _load_cached(str(path.resolve()), path.stat().st_mtime_ns, str(device), backend)


def torch_device(device: str, backend: str = "torch") -> str:
    """The torch device name for ``--device`` (auto, cpu, cuda, cuda:N; "auto" resolved: cuda
    when available).

    Raises:
        PointkitError: not a device, or cuda without a CUDA GPU.
    """
    device = check_device(device)
    if device == "cpu" or (device == "auto" and backend != "torch" and not _nvidia_driver()):
        return "cpu"  # decided without importing torch (seconds of the whole run)
    from pointkit.models.device import resolve_device

    return str(resolve_device(device))


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver may be present, without importing torch: on Linux the driver
    shows in /proc; elsewhere assume it may (torch then decides)."""
    return not sys.platform.startswith("linux") or Path("/proc/driver/nvidia/version").exists()
