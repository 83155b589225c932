"""Networks: LiftNet (pix2pix U-Net with tanh depth output and bilinear upsampling, paper §3.3)."""
from pointkit.models.catalog import available, load
from pointkit.models.liftnet import LiftNet, LiftNetConfig, load_checkpoint, to_network_input

__all__ = ["LiftNet", "LiftNetConfig", "available", "load", "load_checkpoint", "to_network_input"]
