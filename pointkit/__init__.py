"""pointkit: the 3D surface of an object from one photograph, learned from 2D correspondences.

Submodules are imported lazily so that ``import pointkit`` (and the CLI's ``--help``) stays fast:
``pointkit.camera``, ``pointkit.losses``, ``pointkit.metrics``, ``pointkit.models``,
``pointkit.registry``, ``pointkit.data`` ... load on first attribute access.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("pointkit")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

_SUBMODULES = {
    "camera",
    "losses",
    "metrics",
    "models",
    "registry",
    "data",
    "geometry",
    "render",
    "match",
    "io",
    "training",
    "evaluate",
    "lifting",
    "meshing",
    "imaging",
    "view",
}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name == "lift":  # the function, not the module: pointkit.lift(image, ...)
        # The function lives in pointkit.lifting.pipeline, so no submodule import can shadow it.
        return importlib.import_module(f"{__name__}.lifting.pipeline").lift
    raise AttributeError(f"module 'pointkit' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES) + ["lift"])
