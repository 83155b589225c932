"""LiftNet: the pix2pix U-Net variant of the paper (§3.3).

Changes from pix2pix's ``unet_256``, as the paper describes: the output activation is tanh (depth
in [-1, 1]) and every transposed convolution is replaced by bilinear x2 upsampling followed by a
3x3 convolution (no checkerboard artefacts). Optionally a second output channel carries
foreground-mask logits.

Checkpoints are safetensors files whose metadata holds the architecture's name (an entry point of
the ``pointkit.models`` group; "liftnet" when absent, as in checkpoints written before it was
stored), its config (the :class:`LiftNetConfig` for LiftNet) and any extra metadata (e.g. training
settings), so loading needs no pickle and no config file.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from pointkit import registry
from pointkit.errors import PointkitError, first_line
from pointkit.io import atomic_path
from pointkit.models.catalog import checkpoint_file

CHECKPOINT_FORMAT = "pointkit-liftnet"
"""The ``format`` tag of every pointkit checkpoint, whatever its architecture (named after the first)."""
DEFAULT_ARCHITECTURE = "liftnet"
PRIORS = ("none", "silhouette")


@dataclass(frozen=True)
class LiftNetConfig:
    """Architecture of a LiftNet.

    Attributes:
        input_size: square input side, a power of two (128, 256, 512): the U-Net has
            log2(input_size) down-sampling steps down to 1x1.
        ngf: width of the first layer; layer k has ngf * min(2**k, 8) channels.
        mask_head: add a second output channel with foreground-mask logits.
        dropout: dropout in the three innermost decoder blocks (pix2pix uses 0.5 as GAN noise;
            0 suits depth regression).
        prior: ``"none"`` (the paper: RGB only) or ``"silhouette"``: a fourth input channel with
            the object mask's :func:`pointkit.masks.silhouette_prior` (all zeros when no mask is
            known yet, e.g. in the pass that predicts the mask).
    """

    input_size: int = 256
    ngf: int = 64
    mask_head: bool = False
    dropout: float = 0.0
    prior: str = "none"

    def __post_init__(self):
        if self.input_size < 16 or self.input_size & (self.input_size - 1):
            raise ValueError(f"input_size must be a power of two >= 16, got {self.input_size}")
        if self.ngf < 1:
            raise ValueError(f"ngf must be positive, got {self.ngf}")
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {', '.join(PRIORS)}, got {self.prior!r}")

    @property
    def num_downs(self) -> int:
        return int(math.log2(self.input_size))

    @property
    def in_channels(self) -> int:
        return 4 if self.prior == "silhouette" else 3

    @property
    def out_channels(self) -> int:
        return 2 if self.mask_head else 1


def to_network_input(
    image: torch.Tensor, channels_last: bool = False, prior: torch.Tensor | None = None
) -> torch.Tensor:
    """(B,3,S,S) uint8 RGB -> LiftNet's input, float in [-1, 1] (``image / 127.5 - 1``), with the
    (B,1,S,S) silhouette ``prior`` appended as a fourth channel when given; optionally channels_last."""
    x = image.float() / 127.5 - 1
    if prior is not None:
        x = torch.cat([x, prior.to(x.device, x.dtype)], 1)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def _down(cin: int, cout: int, norm: bool, first: bool) -> nn.Sequential:
    layers: list[nn.Module] = [] if first else [nn.LeakyReLU(0.2, inplace=True)]
    layers.append(nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm))
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    return nn.Sequential(*layers)


def _up(cin: int, cout: int, norm: bool, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.ReLU(inplace=True),
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
        nn.Conv2d(cin, cout, 3, padding=1, bias=not norm),
    ]
    if norm:
        layers.append(nn.BatchNorm2d(cout))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class LiftNet(nn.Module):
    """Image -> depth (and optional mask logits).

    Input: (B, 3, S, S) RGB scaled to [-1, 1] (``image / 127.5 - 1``), S = ``config.input_size``;
    with ``config.prior == "silhouette"`` (B, 4, S, S): RGB and the silhouette prior channel.
    Output: (B, C, S, S); channel 0 is depth in [-1, 1] (tanh; larger = farther before any sign
    resolution, up to the affine ambiguity of the loss), channel 1 (if ``mask_head``) mask logits.

    Example:
        >>> net = LiftNet(LiftNetConfig(input_size=64, ngf=8)).eval()
        >>> net(torch.zeros(2, 3, 64, 64)).shape
        torch.Size([2, 1, 64, 64])
    """

    def __init__(self, config: LiftNetConfig | None = None, **kwargs):
        super().__init__()
        self.config = config if config is not None else LiftNetConfig(**kwargs)
        c = self.config
        widths = [c.ngf * min(2**k, 8) for k in range(c.num_downs)]
        self.downs = nn.ModuleList()
        cin = c.in_channels
        for k, cout in enumerate(widths):
            innermost = k == c.num_downs - 1
            self.downs.append(_down(cin, cout, norm=(k > 0 and not innermost), first=(k == 0)))
            cin = cout
        self.ups = nn.ModuleList()
        for k in reversed(range(1, c.num_downs)):
            # Decoder block k maps the features at depth k (plus skip, except innermost) to width k-1.
            up_in = widths[k] if k == c.num_downs - 1 else 2 * widths[k]
            drop = c.dropout if k >= c.num_downs - 3 else 0.0
            self.ups.append(_up(up_in, widths[k - 1], norm=True, dropout=drop))
        self.head = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
            nn.Conv2d(2 * widths[0], c.out_channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        S = self.config.input_size
        C = self.config.in_channels
        if x.ndim != 4 or x.shape[1] != C or x.shape[-2:] != (S, S):
            raise ValueError(f"LiftNet expects (B, {C}, {S}, {S}) inputs in [-1, 1], got {tuple(x.shape)}")
        skips = []
        for down in self.downs:
            x = down(x)
            skips.append(x)
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], 1)
        y = self.head(x)
        depth = torch.tanh(y[:, :1])
        return torch.cat([depth, y[:, 1:]], 1) if self.config.mask_head else depth

    # --- checkpoints -------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LiftNet":
        """An untrained LiftNet of a checkpoint's stored config (keys LiftNetConfig lacks are ignored):
        what :func:`load_checkpoint` calls on the ``pointkit.models`` plugin a checkpoint names."""
        known = {f.name for f in fields(LiftNetConfig)}
        return cls(LiftNetConfig(**{k: v for k, v in config.items() if k in known}))

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> Path:
        """Write a safetensors checkpoint atomically, with the config and ``metadata`` inside."""
        return save_checkpoint(self, path, DEFAULT_ARCHITECTURE, asdict(self.config), metadata)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> "LiftNet":
        """Load a checkpoint written by :meth:`save` (no pickle). See :func:`load_checkpoint`."""
        return load_checkpoint(path, map_location)[0]


def save_checkpoint(
    model: nn.Module,
    path: str | Path,
    architecture: str,
    config: dict[str, Any],
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights as a safetensors checkpoint, atomically, with the ``architecture``
    name (its ``pointkit.models`` entry point), the JSON ``config`` its ``from_config`` rebuilds it
    from, and ``metadata`` inside."""
    meta = {
        "format": CHECKPOINT_FORMAT,
        "architecture": architecture,
        "config": json.dumps(config),
        "metadata": json.dumps(metadata or {}),
    }
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return Path(path)


def rewrite_checkpoint(
    src: str | Path, dst: str | Path, dtype: torch.dtype | None = None, metadata: dict[str, Any] | None = None
) -> dict[str, torch.Tensor]:
    """Write ``src``'s checkpoint (a file, run folder or model name) to ``dst`` atomically, with its
    floating-point weights cast to ``dtype`` (None: unchanged) and ``metadata`` merged into its
    metadata (the architecture and config stay). Returns ``src``'s tensors as they were."""
    load_checkpoint(src)  # refuses pickles and non-pointkit files with the usual one-line errors
    path = checkpoint_file(src)
    with safe_open(str(path), framework="pt") as fh:
        header = fh.metadata()
        state = {k: fh.get_tensor(k) for k in fh.keys()}
    if metadata:
        header = {**header, "metadata": json.dumps({**json.loads(header.get("metadata", "{}")), **metadata})}
    cast = {k: v.to(dtype) if dtype is not None and v.is_floating_point() else v for k, v in state.items()}
    with atomic_path(dst) as tmp:
        save_file(cast, str(tmp), metadata=header)
    return state


def half_checkpoint(src: str | Path, dst: str | Path) -> dict[str, Any]:
    """:func:`rewrite_checkpoint` with float16 weights: :func:`load_checkpoint` reads it back into
    a float32 model (``models/`` keeps every scored candidate this way, half the bytes).
    Returns ``{"out", "bytes", "max_abs_rounding"}`` (the largest weight change from rounding)."""
    state = rewrite_checkpoint(src, dst, torch.float16)
    rounding = max((float((v.half().float() - v.float()).abs().max()) for v in state.values() if v.numel()), default=0)
    return {"out": str(dst), "bytes": Path(dst).stat().st_size, "max_abs_rounding": rounding}


def _is_pickle(path: Path) -> bool:
    """True for torch.save files: a zip archive (torch >= 1.6) or a raw pickle (protocol 2+ opcode),
    and not a safetensors file (8-byte header length, then the JSON header's ``{``)."""
    with open(path, "rb") as f:
        head = f.read(9)
    return head[8:9] != b"{" and (head[:2] == b"PK" or head[:1] == b"\x80")


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Load ``(model, metadata)`` from a pointkit safetensors checkpoint, or from a ``pointkit train``
    run folder (its ``best.safetensors``); the model is in eval mode. The network is built by the
    ``pointkit.models`` plugin the checkpoint's ``architecture`` names (``from_config`` of its
    stored config; "liftnet" when the checkpoint names none). Only safetensors is read: pickled
    files (``torch.save`` .pt / .pth) are refused, never unpickled.

    Raises:
        PointkitError: missing or unreadable file, a pickle, not a pointkit checkpoint, an
            architecture no installed plugin provides, or weights that do not match the stored
            architecture.
    """
    path = checkpoint_file(path)
    if _is_pickle(path):
        raise PointkitError(
            f"{path}: a pickled file (torch.save); pointkit loads safetensors checkpoints only, "
            "never pickles (convert it with safetensors.torch.save_file)"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        state = load_file(str(path), device=str(map_location))
    except Exception as exc:
        raise PointkitError(f"{path}: not a readable safetensors checkpoint ({exc})") from None
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise PointkitError(f"{path}: not a pointkit model checkpoint (format {meta.get('format')!r})")
    architecture = meta.get("architecture", DEFAULT_ARCHITECTURE)
    try:
        network = registry.load("pointkit.models", architecture)
    except registry.PluginError as exc:
        raise PointkitError(f"{path}: {exc}") from None
    try:
        model = network.from_config(json.loads(meta["config"]))
        model.load_state_dict(state, strict=True)
    except (KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise PointkitError(
            f"{path}: weights do not match the {architecture} architecture stored in it ({first_line(exc)})"
        ) from None
    return model.to(map_location).eval(), json.loads(meta.get("metadata", "{}"))


def load(name: str | Path, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """``(model, metadata)`` of a model by name (``pointkit models``: "default", the user's) or a
    checkpoint path: :func:`load_checkpoint`, which takes either (``pointkit.models.load``)."""
    return load_checkpoint(name, map_location)
