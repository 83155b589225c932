"""The torch device a command runs on, from its ``--device`` text."""

from __future__ import annotations

import torch

from pointkit.errors import PointkitError


def resolve_device(name: str) -> torch.device:
    """ "auto" -> cuda when available else cpu; "cuda" without a GPU is a PointkitError."""
    if name == "cuda" and not torch.cuda.is_available():
        raise PointkitError("--device cuda: no CUDA GPU is available to torch; use --device cpu or auto")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)
