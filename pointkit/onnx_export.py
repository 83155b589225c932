"""LiftNet as an ONNX model (``pointkit export onnx``), checked against torch after export.

The graph takes ``image`` (batch, C, S, S) float32 — C = 3 (RGB as ``image / 127.5 - 1``), or 4
for a model with a silhouette prior (the prior as the fourth channel) — with a dynamic batch and
the checkpoint's fixed input size S, and returns ``output`` (batch, 1 or 2, S, S): channel 0 the
raw depth (up to LiftNet's affine ambiguity), channel 1 the mask logits when the model has a mask
head. The LiftNet config and the checkpoint's metadata are stored as ONNX metadata properties.
Needs ``pip install 'pointkit[onnx]'`` (onnx, onnxscript for torch's exporter, onnxruntime).
"""

from __future__ import annotations

import importlib
import json
import logging
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pointkit import __version__
from pointkit.errors import PointkitError
from pointkit.io import atomic_path
from pointkit.models.catalog import checkpoint_file
from pointkit.models.liftnet import load_checkpoint
from pointkit.models.onnx_model import file_sha256

TOLERANCE = 1e-3
"""Largest |onnxruntime - torch| accepted on the export check (float32; measured ~1e-5)."""


def _require(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise PointkitError(f"{module} is missing: pip install 'pointkit[onnx]'") from None


def export_onnx(checkpoint: str | Path, out: str | Path, check_batch: int = 2, seed: int = 0) -> dict[str, Any]:
    """Export ``checkpoint`` (a path, run folder or model name) to ``out`` atomically, then run
    onnxruntime and torch on the same random batches (1 and ``check_batch`` images) and compare.

    Returns:
        ``{"out", "input_size", "channels", "outputs", "max_abs_diff", "bytes"}``.

    Raises:
        PointkitError: onnx / onnxruntime missing, a bad checkpoint, or outputs that differ from
            torch's by more than ``TOLERANCE``.
    """
    onnx = _require("onnx")
    _require("onnxruntime")
    _require("onnxscript")
    model, meta = load_checkpoint(checkpoint)
    cfg = model.config
    out = Path(out)
    with atomic_path(out) as tmp:
        graph = _traced_graph(model, check_batch)
        props = {"checkpoint_sha256": file_sha256(checkpoint_file(checkpoint)), "checkpoint_metadata": json.dumps(meta)}
        for key, value in {**_description(cfg), **props}.items():
            entry = graph.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save_model(graph, str(tmp))
    worst = _check_against_torch(model, out, check_batch, seed)
    return {"out": str(out), "input_size": cfg.input_size, "channels": cfg.in_channels,
            "outputs": 2 if cfg.mask_head else 1, "max_abs_diff": worst, "bytes": out.stat().st_size}  # fmt: skip


def _traced_graph(model, batch: int):
    """The ONNX graph of ``model`` by torch's dynamo exporter, with a dynamic batch (its warnings
    and log lines silenced: they are about torch internals, not the user's model)."""
    C, S = model.config.in_channels, model.config.input_size
    quiet = logging.getLogger("torch.onnx")
    level, quiet.level = quiet.level, logging.ERROR
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, (torch.zeros(batch, C, S, S),), dynamo=True, input_names=["image"],
                                        output_names=["output"], dynamic_shapes={"x": {0: torch.export.Dim("batch")}},
                                        verbose=False)  # fmt: skip
    finally:
        quiet.setLevel(level)
    return program.model_proto


def _description(cfg) -> dict[str, str]:
    """The metadata every export carries: pointkit's version, the LiftNet config, the input's meaning."""
    C, S = cfg.in_channels, cfg.input_size
    return {"pointkit_version": __version__, "liftnet_config": json.dumps(asdict(cfg)),
            "input": f"image (batch, {C}, {S}, {S}) = rgb / 127.5 - 1"}  # fmt: skip


def _check_against_torch(model, path: Path, check_batch: int, seed: int) -> float:
    """Largest |onnxruntime - torch| on random batches of 1 and ``check_batch`` images; the file is
    removed and a PointkitError raised when the shapes differ or it is over ``TOLERANCE``."""
    import onnxruntime as ort

    C, S = model.config.in_channels, model.config.input_size
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch in (1, check_batch):
        x = torch.rand(batch, C, S, S, generator=g) * 2 - 1
        with torch.no_grad():
            ref = model(x).numpy()
        got = session.run(None, {"image": x.numpy()})[0]
        if got.shape != ref.shape:
            path.unlink(missing_ok=True)
            raise PointkitError(f"ONNX output shape {got.shape} differs from torch's {ref.shape}; file removed")
        worst = max(worst, float(np.abs(got - ref).max()))
    if worst > TOLERANCE:
        path.unlink(missing_ok=True)
        raise PointkitError(f"ONNX outputs differ from torch by {worst:.2e} (> {TOLERANCE}); file removed")
    return worst
