"""Networks: LiftNet (pix2pix U-Net with tanh depth output and bilinear upsampling, paper §3.3).

Names are imported on first use (PEP 562), so ``pointkit.models.catalog`` and the onnxruntime
path (``pointkit.models.onnx_model``) load without torch: ``pointkit lift`` on the CPU never
imports it when the checkpoint has an ONNX export beside it.
"""

from importlib import import_module

_WHERE = {
    "available": "catalog",
    "load": "liftnet",
    "LiftNet": "liftnet",
    "LiftNetConfig": "liftnet",
    "load_checkpoint": "liftnet",
    "to_network_input": "liftnet",
}

__all__ = list(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f"pointkit.models.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'pointkit.models' has no attribute {name!r}")
