"""LiftNet run by onnxruntime from the ONNX file ``pointkit export onnx`` wrote beside its
checkpoint: the CPU path of ``pointkit lift`` without torch (importing torch takes longer than
lifting an image).

An export is used for a checkpoint only when it is its own: the export records the SHA-256 of the
checkpoint file it was made from (``checkpoint_sha256``), and :func:`export_for` compares it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from pointkit.errors import PointkitError


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_path(checkpoint: str | Path) -> Path:
    """Where the ONNX export of a checkpoint file lives: beside it, suffix ``.onnx``."""
    return Path(checkpoint).with_suffix(".onnx")


class OnnxLiftNet:
    """An exported LiftNet: ``config`` (``input_size``, ``prior``, ``mask_head`` ... as saved) and
    ``model(x)``: (N, C, S, S) float32 network input -> (N, 1 or 2, S, S) float32 output.

    Raises (constructor):
        PointkitError: onnxruntime missing, or not a pointkit ONNX export.
    """

    backend = "onnx"

    def __init__(self, path: str | Path, threads: int | None = None):
        try:
            import onnxruntime as ort
        except ImportError:
            raise PointkitError(
                "onnxruntime is missing: pip install 'pointkit[onnx]', or use --backend torch"
            ) from None
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            meta = self.session.get_modelmeta().custom_metadata_map
            self.config = SimpleNamespace(**json.loads(meta["liftnet_config"]))
            self.metadata = json.loads(meta.get("checkpoint_metadata", "{}"))
            self.checkpoint_sha256 = meta.get("checkpoint_sha256")
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise PointkitError(f"{path}: not a pointkit ONNX export ({str(exc).strip().splitlines()[0]})") from None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"image": np.ascontiguousarray(x, np.float32)})[0]


def load_export(checkpoint: str | Path, threads: int | None = None) -> OnnxLiftNet | None:
    """The ONNX export beside ``checkpoint``, loaded, when it was made from these very bytes; None
    when there is none or it belongs to another version of the checkpoint."""
    path = export_path(checkpoint)
    if not path.is_file():
        return None
    model = OnnxLiftNet(path, threads)
    return model if model.checkpoint_sha256 == file_sha256(checkpoint) else None
