"""The torch device a command runs on, from its ``--device`` text."""

from __future__ import annotations

import torch

from pointkit.errors import PointkitError
from pointkit.jobs.settings import DEVICE_FORMS, check_device


def resolve_device(name) -> torch.device:
    """``--device`` (:class:`pointkit.jobs.settings.Device`: auto, cpu, cuda, cuda:N) -> a torch
    device: "auto" is cuda when available, else cpu.

    Raises:
        PointkitError: one line: not a device, or cuda (cuda:N) asked for without that CUDA GPU.
    """
    name = check_device(name)
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PointkitError(f"--device {name}: no CUDA GPU is available to torch; use --device cpu or auto")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise PointkitError(
                f"--device {name}: no CUDA GPU {index} (torch sees {torch.cuda.device_count()}); "
                f"use {DEVICE_FORMS} with N below that"
            )
    return torch.device(name)
