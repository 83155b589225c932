"""One image, or a batch of them, through the whole pipeline: load, network, mask, rules, mesh
(:func:`lift`, which is ``pointkit.lift``, and :func:`lift_batch`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pointkit import memory
from pointkit.errors import PointkitError
from pointkit.imaging import MAX_PIXELS, from_array, load_image
from pointkit.lifting.model import DEFAULT_CHECKPOINT, load_model, torch_device
from pointkit.lifting.predict import predict_batch
from pointkit.lifting.rules import metres_per_unit, parse_scale_from, resolve_depth
from pointkit.masks import check_mask_source, object_mask
from pointkit.meshing import DEFAULT_MAX_SIDE, GridMesh, depth_to_mesh


@dataclass
class LiftResult:
    """What :func:`lift` returns (all arrays at the input image's resolution H x W).

    Attributes:
        depth: (H, W) float32 resolved camera depth (longer image side = 1 unit, nearest object
            point at 1, larger = farther); 0 off the object.
        mask: (H, W) bool object pixels.
        mesh: the textured :class:`pointkit.meshing.GridMesh` (frame: x right, y up, z toward the
            viewer; ``.export(path)`` writes it, ``.to_trimesh()`` converts it).
        image: (H, W, 3) uint8 upright RGB input.
        raw: (H, W) float32 network depth channel before the rules (valid everywhere), shifted to
            zero median over the object (LiftNet's canonical output).
        info: how it was made: mask source, checkpoint, rules' sign / tilt / scale.
    """

    depth: np.ndarray
    mask: np.ndarray
    mesh: GridMesh
    image: np.ndarray
    raw: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def check_options(
    depth_scale: float,
    mesh_resolution: int,
    device: str,
    backend: str = "torch",
    mask: str | Path | np.ndarray = "auto",
) -> str:
    """Refuse bad options in one line; returns the torch device name ("auto" resolved)."""
    check_mask_source(mask)
    if not depth_scale > 0:
        raise PointkitError(f"--depth-scale must be positive, got {depth_scale}")
    if mesh_resolution < 1:
        raise PointkitError(f"--mesh-resolution must be at least 1, got {mesh_resolution}")
    return torch_device(device, backend)


def lift(
    image: str | Path | np.ndarray,
    checkpoint: str | Path | None = None,
    depth_scale: float = 1.0,
    mask: str | Path | np.ndarray = "auto",
    device: str = "auto",
    max_pixels: int = MAX_PIXELS,
    mesh_resolution: int = DEFAULT_MAX_SIDE,
    scale_from: str | None = None,
    max_memory_gb: float | None = None,
    backend: str = "auto",
) -> LiftResult:
    """Lift one image to a resolved depth map, an object mask and a textured mesh.

    Args:
        image: an image file or an (H, W[, 3|4]) array (uint8, uint16 or float in [0, 1]).
        checkpoint: LiftNet safetensors checkpoint; None: the default model in the package.
        depth_scale: multiplies the depth extent of the rules (1: about a sphere's).
        mask: "auto", "alpha", "network", "grabcut", "none", a mask file or an (H, W) bool array
            (see :func:`pointkit.masks.object_mask`).
        device: torch device for the network: "auto" (cuda when available; the CPU, decided
            without importing torch, when the backend may be onnx and there is no NVIDIA driver),
            "cpu", "cuda" or "cuda:N".
        max_pixels: refuse larger images.
        mesh_resolution: vertex grid samples on the longer side of the mesh.
        scale_from: ``"height=M"`` or ``"width=M"``: the object's real size in metres; the depth
            and the mesh are then in metres (the mask's extent spans M), else in units of the
            image's longer side.
        max_memory_gb: refuse an image file whose memory estimate (``pointkit.memory.lift_bytes``)
            is over this (default: 75 % of the machine's memory), before decoding it.
        backend: "auto", "torch" or "onnx" (see :func:`pointkit.lifting.model.load_model`).

    Returns:
        LiftResult (``.depth`` (H, W) float32, ``.mask`` (H, W) bool, ``.mesh`` GridMesh).

    Raises:
        PointkitError: bad image or option, missing model, empty mask.

    >>> result = pointkit.lift("photo.jpg")            # doctest: +SKIP
    >>> result.mesh.export("photo.glb")                # doctest: +SKIP
    """
    result = lift_batch(
        [image], checkpoint, depth_scale, mask, device, max_pixels, mesh_resolution, scale_from, max_memory_gb, backend
    )[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _attempt(fn, *args):
    """``fn(*args)``, or the exception it raised (one image's failure must not stop its batch)."""
    try:
        return fn(*args)
    except Exception as exc:
        return exc


def _load(image: str | Path | np.ndarray, max_pixels: int, max_memory_gb: float | None = None):
    """The image, decoded only when its memory estimate fits ``max_memory_gb``."""
    if not isinstance(image, (str, Path)):
        return from_array(image)

    def fits(width: int, height: int) -> None:
        memory.check_memory(memory.lift_bytes(height, width), f"{image}: lift at {width}x{height}", max_memory_gb)

    return load_image(image, max_pixels, before_decode=fits)


def lift_batch(
    images: Sequence[str | Path | np.ndarray],
    checkpoint: str | Path | None = None,
    depth_scale: float = 1.0,
    mask: str | Path | np.ndarray = "auto",
    device: str = "auto",
    max_pixels: int = MAX_PIXELS,
    mesh_resolution: int = DEFAULT_MAX_SIDE,
    scale_from: str | None = None,
    max_memory_gb: float | None = None,
    backend: str = "auto",
) -> list[LiftResult | Exception]:
    """:func:`lift` of several images with one network forward per pass for all of them: batched
    inference, what makes a GPU pay off (same arguments as :func:`lift`, ``mask`` for every image).

    Returns:
        per image, in order: its LiftResult, or the exception that stopped it (the others go on).

    Raises:
        PointkitError: a bad option or a missing model (before any image is read).
    """
    device = check_options(depth_scale, mesh_resolution, device, backend, mask)
    if scale_from is not None:
        parse_scale_from(scale_from)
    model, meta = load_model(checkpoint, device, backend)
    out: list = [_attempt(_load, image, max_pixels, max_memory_gb) for image in images]
    live = [i for i, item in enumerate(out) if not isinstance(item, Exception)]
    first = predict_batch(model, [out[i].rgb for i in live], device) if live else []
    trusted = meta.get("mask_head_trusted", True) or mask == "network"  # checkpoints before the key: trusted
    masks = {
        i: _attempt(object_mask, out[i], logits if trusted else None, mask, max_pixels)
        for i, (_, logits) in zip(live, first)
    }
    raws = {i: raw for i, (raw, _) in zip(live, first)}
    for i in [i for i in live if isinstance(masks[i], Exception)]:
        out[i] = masks[i]
    live = [i for i in live if not isinstance(masks[i], Exception)]
    if model.config.prior == "silhouette" and live:  # the second pass sees each chosen mask
        second = predict_batch(model, [out[i].rgb for i in live], device, [masks[i][0] for i in live])
        raws.update({i: raw for i, (raw, _) in zip(live, second)})
    for i in live:
        out[i] = _attempt(
            _finish, out[i], raws[i], *masks[i], meta, checkpoint, depth_scale, mesh_resolution, scale_from
        )
    return out


def _finish(
    loaded,
    raw: np.ndarray,
    obj: np.ndarray,
    source: str,
    meta: dict,
    checkpoint,
    depth_scale: float,
    mesh_resolution: int,
    scale_from: str | None,
) -> LiftResult:
    """One image's result from its network depth ``raw`` (H, W) and mask ``obj`` (H, W) bool: the
    depth made canonical (zero median over the object: the loss leaves the offset free), the
    rules, the mesh, the units."""
    raw = raw - np.float32(np.median(raw[obj]))
    depth, rules = resolve_depth(raw, obj, depth_scale)
    try:
        mesh = depth_to_mesh(depth, obj, loaded.rgb, max_side=mesh_resolution)
    except PointkitError as exc:
        raise PointkitError(f"{loaded.source}: {exc}") from None
    info = {
        "mask": source,
        "checkpoint": str(checkpoint or DEFAULT_CHECKPOINT),
        "depth_scale": float(depth_scale),
        "units": "longer image side = 1; nearest object point at depth 1",
        "rules": rules,
        "model": {k: meta[k] for k in sorted(meta) if isinstance(meta[k], (str, int, float, bool))},
    }
    if scale_from is not None:
        k = metres_per_unit(scale_from, obj)
        depth = (depth * k).astype(np.float32)
        mesh.apply_scale(k)
        info.update(
            units=f"metres ({scale_from}: the mask's extent; 1 longer image side = {k:.6g} m)", metres_per_unit=k
        )
    return LiftResult(depth, obj, mesh, loaded.rgb, raw, info)
