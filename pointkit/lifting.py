r"""``pointkit lift``: one image -> resolved depth, object mask and a textured mesh.

Pipeline (docs/lift.md): load the image upright (:mod:`pointkit.imaging`) -> pad to a square
with its own border pixels, resize to the network's input -> LiftNet -> depth (and mask logits)
back at input resolution -> object mask -> resolve the depth's ambiguity by three documented
rules -> grid mesh in the documented frame (:mod:`pointkit.meshing`) -> files.

LiftNet's depth is defined only up to ``d -> a d + b u + c v + e`` (the loss cannot see more).
The rules, applied over the object mask, in order:

1. **No net tilt** (``b``, ``c``): subtract the tilt of the least-squares plane ``b u + c v + e``
   fitted to the depth over all object pixels (``plane="boundary"`` fits it over the silhouette
   pixels only; on ground truth the object fit distorts slightly less, benchmarks/lift.py).
2. **The object bulges toward the camera** (sign of ``a``): depth must decrease (come nearer)
   away from the silhouette, i.e. correlate negatively with the distance to the boundary.
3. **Depth extent from image size** (``|a|``): the 2-98 % depth range equals
   ``BULGE * depth_scale * sqrt(area / pi)`` pixels (a sphere's visible half has exactly its
   radius; ``BULGE`` is the median ratio measured on rendered sculptures, benchmarks/lift.py).

Then ``e``: the nearest object point is at depth 1. Units of the resolved depth: the image's
longer side = 1 (so a depth of 1 is one image width in front of the object's nearest point).
"""

from __future__ import annotations

import functools
import itertools
from collections import Counter
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np

from pointkit import memory, registry
from pointkit.errors import PointkitError, first_line
from pointkit.imaging import IMAGE_SUFFIXES, MAX_PIXELS, colorize_depth, from_array, load_image
from pointkit.masks import inside_distance, object_mask, silhouette_prior
from pointkit.meshing import DEFAULT_MAX_SIDE, GridMesh, depth_to_mesh, normal_map
from pointkit.models.catalog import DEFAULT_MODEL
from pointkit.models.catalog import checkpoint_file


DEFAULT_CHECKPOINT = DEFAULT_MODEL
BULGE = 1.0
"""Visible depth extent (2-98 % range) / equivalent radius sqrt(area / pi) of the object's image:
1 for a sphere; the median over 60 test-split views of procedural sculptures is 1.03
(benchmarks/lift.py rules)."""


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


# --- model -----------------------------------------------------------------------------------
BACKENDS = ("auto", "torch", "onnx")


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, mtime_ns: int, device: str, backend: str):
    if backend != "torch" and device == "cpu":
        from pointkit.models.onnx_model import load_export

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
    from pointkit.models import load_checkpoint

    return load_checkpoint(path, device)


def _onnxruntime_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None


def load_model(checkpoint: str | Path | None = None, device: str = "cpu", backend: str = "torch"):
    """``(model, metadata)`` for ``checkpoint`` (None: the default model shipped in the package).

    ``backend``: "torch" (LiftNet), "onnx" (the checkpoint's ONNX export beside it, run by
    onnxruntime on the CPU: no torch import) or "auto" (onnx when the device is the CPU and an
    export made from this very checkpoint file exists, else torch). Loaded models are cached
    (keyed on path, modification time, device and backend), so lifting a folder or calling
    :func:`lift` repeatedly loads the weights once.
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


def _square(rgb: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad (H, W, 3) to a square with its own border pixels; returns the square and (top, left)."""
    H, W = rgb.shape[:2]
    side = max(H, W)
    top, left = (side - H) // 2, (side - W) // 2
    return cv2.copyMakeBorder(rgb, top, side - H - top, left, side - W - left, cv2.BORDER_REPLICATE), (top, left)


def _network_input(model, rgb: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, tuple[int, int, int]]:
    """One image as LiftNet's input, (C, S, S) float32 (``rgb / 127.5 - 1``, plus the silhouette
    prior channel for a model that takes one), and how to map outputs back (side, top, left)."""
    S = model.config.input_size
    square, (top, left) = _square(rgb)
    side = square.shape[0]
    small = cv2.resize(square, (S, S), interpolation=cv2.INTER_AREA if side > S else cv2.INTER_LINEAR)
    x = small.transpose(2, 0, 1).astype(np.float32) / np.float32(127.5) - np.float32(1)
    if model.config.prior == "silhouette":
        prior = np.zeros((S, S), np.float32)
        if mask is not None:
            sq_mask = cv2.copyMakeBorder(
                mask.astype(np.uint8),
                top,
                side - mask.shape[0] - top,
                left,
                side - mask.shape[1] - left,
                cv2.BORDER_CONSTANT,
                value=0,
            )
            prior = silhouette_prior(cv2.resize(sq_mask, (S, S), interpolation=cv2.INTER_NEAREST) > 0)
        x = np.concatenate([x, prior[None].astype(np.float32)])
    return x, (side, top, left)


def _forward(model, x: np.ndarray, device: str) -> np.ndarray:
    """(N, C, S, S) float32 -> the network's (N, C_out, S, S) float32, by onnxruntime or torch."""
    if getattr(model, "backend", "torch") == "onnx":
        return model(x)
    import torch

    with torch.inference_mode():
        return model(torch.from_numpy(x).to(device)).float().cpu().numpy()


def predict_batch(
    model, rgbs: Sequence[np.ndarray], device: str = "cpu", masks: Sequence[np.ndarray | None] | None = None
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """Run LiftNet once on a batch of images (any sizes) at its input size and map each output back.

    Args:
        model: a LiftNet in eval mode (batch-independent: BatchNorm uses its running statistics),
            or its ONNX export (``pointkit.models.onnx_model.OnnxLiftNet``).
        rgbs: N images, each (H_i, W_i, 3) uint8.
        masks: N (H_i, W_i) bool object masks for a model with the silhouette prior
            (``config.prior == "silhouette"``); None gives it an empty prior (the pass that
            predicts the mask). Ignored by models without the prior.

    Returns:
        per image: raw depth (H_i, W_i) float32 (channel 0, unresolved) and mask logits (H_i, W_i)
        float32 or None.
    """
    inputs = [_network_input(model, rgb, m) for rgb, m in zip(rgbs, masks or [None] * len(rgbs))]
    y = _forward(model, np.stack([x for x, _ in inputs]), device)  # (N, C, S, S)
    results = []
    for rgb, (_, (side, top, left)), channels in zip(rgbs, inputs, y):
        H, W = rgb.shape[:2]
        out = [
            cv2.resize(c, (side, side), interpolation=cv2.INTER_LINEAR)[top : top + H, left : left + W]
            for c in channels
        ]
        results.append((out[0].astype(np.float32), out[1].astype(np.float32) if len(out) > 1 else None))
    return results


def predict(
    model, rgb: np.ndarray, device: str = "cpu", mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`predict_batch` of one (H, W, 3) image: raw depth (H, W) and mask logits (H, W) or None."""
    return predict_batch(model, [rgb], device, [mask])[0]


# --- the rules -------------------------------------------------------------------------------
def boundary(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool object pixels with a background (or out-of-image) 4-neighbour."""
    padded = np.pad(mask, 1, constant_values=False)
    inner = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return mask & ~inner


def resolve_depth(
    raw: np.ndarray, mask: np.ndarray, depth_scale: float = 1.0, plane: str = "object", bulge: float = BULGE
) -> tuple[np.ndarray, dict[str, float]]:
    """Apply the module's three rules to a raw depth map.

    Args:
        raw: (H, W) depth up to ``a d + b u + c v + e``.
        mask: (H, W) bool object pixels (at least a few).
        depth_scale: multiplies the depth extent of rule 3.
        plane: ``"boundary"`` or ``"object"``: the pixels the tilt plane of rule 1 is fitted to.
        bulge: rule 3's extent / equivalent radius.

    Returns:
        depth (H, W) float32 (units: longer image side; nearest object point at 1; 0 off the
        object) and the rule values ``{"sign", "tilt_u", "tilt_v", "scale"}`` (tilts in raw
        depth per pixel, scale from raw to output units).
    """
    if plane not in ("boundary", "object"):
        raise ValueError(f"plane must be 'boundary' or 'object', got {plane!r}")
    H, W = raw.shape
    fit = boundary(mask) if plane == "boundary" else mask
    if fit.sum() < 3:
        fit = mask
    # Pixel centres of the object pixels only: full-image coordinate grids cost 200 MB at 12 Mpixel.
    fv, fu = np.nonzero(fit)
    A = np.stack([fu + 0.5, fv + 0.5, np.ones(len(fu))], 1)
    coef = np.linalg.lstsq(A, raw[fit].astype(np.float64), rcond=None)[0]
    mv, mu = np.nonzero(mask)
    dm = raw[mask].astype(np.float64) - coef[0] * (mu + 0.5) - coef[1] * (mv + 0.5)
    im = inside_distance(mask)[mask]
    sign = -1.0 if np.mean((dm - dm.mean()) * (im - im.mean())) > 0 else 1.0
    dm = sign * dm
    lo, hi = np.percentile(dm, [2, 98])
    target = bulge * float(depth_scale) * np.sqrt(mask.sum() / np.pi) / max(H, W)
    scale = target / (hi - lo) if hi - lo > 1e-9 else 0.0
    dm = dm * scale
    out = np.zeros((H, W), np.float32)
    out[mask] = dm - dm.min() + 1.0
    return out, {"sign": sign, "tilt_u": float(coef[0]), "tilt_v": float(coef[1]), "scale": float(sign * scale)}


# --- the API ---------------------------------------------------------------------------------
def _check_options(depth_scale: float, mesh_resolution: int, device: str, backend: str = "torch") -> str:
    """Refuse bad options in one line; returns the torch device name ("auto" resolved)."""
    if not depth_scale > 0:
        raise PointkitError(f"--depth-scale must be positive, got {depth_scale}")
    if mesh_resolution < 1:
        raise PointkitError(f"--mesh-resolution must be at least 1, got {mesh_resolution}")
    if device == "cpu" or (device == "auto" and backend != "torch" and not _nvidia_driver()):
        return "cpu"  # decided without importing torch (seconds of the whole run)
    from pointkit.models.device import resolve_device

    try:
        return str(resolve_device(str(device)))
    except RuntimeError:  # torch's own message lists every device type it knows
        raise PointkitError(f"--device {device}: not a torch device; use cpu, cuda (cuda:N) or auto") from None


def _nvidia_driver() -> bool:
    """Whether an NVIDIA driver may be present, without importing torch: on Linux the driver
    shows in /proc; elsewhere assume it may (torch then decides)."""
    return not sys.platform.startswith("linux") or Path("/proc/driver/nvidia/version").exists()


SCALE_KEYS = ("height", "width")
GPU_BATCH = 8  # images per network forward on CUDA (lift_files' default)


def parse_scale_from(spec: str) -> tuple[str, float]:
    """``"height=0.42"`` -> ("height", 0.42): the object's real height (or width) in metres.

    Raises:
        PointkitError: another key, or a size that is not a positive number.
    """
    key, sep, value = str(spec).partition("=")
    try:
        metres = float(value)
    except ValueError:
        metres = float("nan")
    if not sep or key.strip() not in SCALE_KEYS or not np.isfinite(metres) or metres <= 0:
        raise PointkitError(
            f"--scale-from {spec!r}: use height=METRES or width=METRES (the object's real size, e.g. height=0.42)"
        )
    return key.strip(), metres


def metres_per_unit(spec: str, mask: np.ndarray) -> float:
    """Metres per mesh unit (the image's longer side) that make the mask's height (or width)
    span the size ``spec`` gives (``parse_scale_from``)."""
    key, metres = parse_scale_from(spec)
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    extent = (rows[-1] - rows[0] + 1) if key == "height" else (cols[-1] - cols[0] + 1)
    return metres * max(mask.shape) / float(extent)


def lift(
    image: str | Path | np.ndarray,
    checkpoint: str | Path | None = None,
    depth_scale: float = 1.0,
    mask: str | Path | np.ndarray = "auto",
    device: str = "cpu",
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
        device: torch device for the network ("cpu", "cuda", "auto": cuda when available).
        max_pixels: refuse larger images.
        mesh_resolution: vertex grid samples on the longer side of the mesh.
        scale_from: ``"height=M"`` or ``"width=M"``: the object's real size in metres; the depth
            and the mesh are then in metres (the mask's extent spans M), else in units of the
            image's longer side.
        max_memory_gb: refuse an image file whose memory estimate (``pointkit.memory.lift_bytes``)
            is over this (default: 75 % of the machine's memory), before decoding it.
        backend: "auto", "torch" or "onnx" (see :func:`load_model`).

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
    device: str = "cpu",
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
    device = _check_options(depth_scale, mesh_resolution, device, backend)
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


def parse_formats(fmt: str | Sequence[str]) -> tuple[str, ...]:
    """``"glb,ply"`` or ``["glb", "ply"]`` -> ("glb", "ply"), each once and each a registered
    exporter (entry-point group ``pointkit.exporters``: the built-ins and any plugin's).

    Raises:
        PointkitError: an unknown or empty format.
    """
    names = [f.strip().lower() for f in (fmt.split(",") if isinstance(fmt, str) else fmt)]
    known = registry.available("pointkit.exporters")
    unknown = [f for f in names if f not in known]
    if unknown or not names:
        raise PointkitError(
            f"unknown format {', '.join(unknown) or repr(fmt)}; use one or more of {', '.join(known)}, comma-separated"
        )
    return tuple(dict.fromkeys(names))


def output_files(out: str | Path, stem: str, fmt: str | Sequence[str] = "glb", normals: bool = False) -> list[Path]:
    """The files ``write_outputs`` writes for ``stem`` (obj's .mtl and texture aside)."""
    out = Path(out)
    suffixes = ("_depth.npy", "_depth.png", "_depth_color.png", "_mask.png") + (
        ("_normals.npy", "_normals.png") if normals else ()
    )
    suffixes += tuple(registry.load("pointkit.exporters", f).suffix for f in parse_formats(fmt))
    return [out / f"{stem}{suffix}" for suffix in suffixes]


def write_outputs(
    result: LiftResult, out: str | Path, stem: str, fmt: str | Sequence[str] = "glb", normals: bool = False
) -> list[Path]:
    """Write one image's files into ``out``, each atomically; on any failure the files already
    written for this image are removed (never a partial set, never a partial mesh).

    Files: ``<stem>_depth.npy`` (float32), ``<stem>_depth.png`` (16-bit: 0 = background, 1..65535
    linear from the nearest to the farthest object depth; the range is in the PNG's text chunks
    ``depth_near`` / ``depth_far``), ``<stem>_depth_color.png``, ``<stem>_mask.png`` (0/255), with
    ``normals`` ``<stem>_normals.npy`` (H, W, 3 float32, ``meshing.normal_map``) and
    ``<stem>_normals.png`` ((n + 1) / 2 as 8-bit RGB, black off the object) and, last, one file per
    format of ``fmt`` (``parse_formats``), by its exporter (``pointkit.meshing.Exporter``): ``<stem>.glb`` /
    ``.ply`` / ``.obj`` (+ .mtl, texture) / ``.npz``, ``<stem>_points.ply``, or a plugin's. ``stem`` may hold
    sub-folders.
    """
    from PIL import Image, PngImagePlugin

    from pointkit.io import atomic_path

    exporters = [registry.load("pointkit.exporters", f) for f in parse_formats(fmt)]
    out = Path(out)
    written: list[Path] = []
    try:
        path = out / f"{stem}_depth.npy"
        with atomic_path(path) as tmp:
            np.save(tmp, result.depth.astype(np.float32))
        written.append(path)
        d = result.depth[result.mask]
        near, far = float(d.min()), float(d.max())
        png16 = np.zeros(result.depth.shape, np.uint16)
        png16[result.mask] = 1 + np.round((d - near) / max(far - near, 1e-12) * 65534).astype(np.uint16)
        text = PngImagePlugin.PngInfo()
        text.add_text("depth_near", repr(near))
        text.add_text("depth_far", repr(far))
        for name, array, kwargs in (
            (f"{stem}_depth.png", png16, {"pnginfo": text}),
            (f"{stem}_depth_color.png", colorize_depth(result.depth, result.mask), {}),
            (f"{stem}_mask.png", result.mask.astype(np.uint8) * 255, {}),
        ):
            with atomic_path(out / name) as tmp:
                # zlib level 1 (not 6): slightly larger files, cheaper writes; lift is mostly file writing
                Image.fromarray(array).save(tmp, compress_level=1, **kwargs)
            written.append(out / name)
        if normals:
            # normal_map takes depth in units of the longer image side: undo --scale-from's metres.
            n = normal_map(result.depth / result.info.get("metres_per_unit", 1.0), result.mask)
            with atomic_path(out / f"{stem}_normals.npy") as tmp:
                np.save(tmp, n)
            written.append(out / f"{stem}_normals.npy")
            rgb = np.where(result.mask[..., None], np.round((n + 1) * 127.5), 0).astype(np.uint8)
            with atomic_path(out / f"{stem}_normals.png") as tmp:
                Image.fromarray(rgb).save(tmp, compress_level=1)
            written.append(out / f"{stem}_normals.png")
        for exporter in exporters:
            written.extend(exporter.write(result, out / f"{stem}{exporter.suffix}"))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written


def collect_images(inputs: Iterable[str | Path], recursive: bool = False) -> list[tuple[Path, Path]]:
    """(image file, its folder relative to the input folder it was found in) for files and folders
    (a folder's images with known suffixes, sorted; with ``recursive`` its sub-folders' too), each
    file once. A file given directly has the relative folder ``.``."""
    files: dict[Path, Path] = {}
    for item in map(Path, inputs):
        if item.is_dir():
            walk = item.rglob("*") if recursive else item.iterdir()
            found = sorted(
                p
                for p in walk
                if p.is_file()
                and p.suffix.lower() in IMAGE_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
            if not found:
                where = "this folder or below" if recursive else "this folder (-r: and its sub-folders)"
                raise PointkitError(f"{item}: no images ({', '.join(IMAGE_SUFFIXES)}) in {where}")
            for p in found:
                files.setdefault(p, p.parent.relative_to(item))
        else:
            files.setdefault(item, Path("."))
    if not files:
        raise PointkitError("no input images given")
    return list(files.items())


def output_stems(files: list[tuple[Path, Path]] | list[Path]) -> list[str]:
    """The output stem of each input (``collect_images`` pairs, or plain paths): its relative folder
    and its own stem, or ``<stem>_<suffix>`` when two inputs of one folder share a stem (a.jpg,
    a.png), so they do not overwrite each other.

    Raises:
        PointkitError: two inputs that would still write the same files (x.png in two folders).
    """
    pairs = [(f, Path(".")) if isinstance(f, Path) else f for f in files]
    counts = Counter((rel / f.stem).as_posix() for f, rel in pairs)
    stems = []
    for f, rel in pairs:
        key = (rel / f.stem).as_posix()
        stems.append(key if counts[key] == 1 else f"{key}_{f.suffix.lstrip('.').lower()}")
    first: dict[str, Path] = {}
    for (path, _), stem in zip(pairs, stems):
        if stem in first:
            raise PointkitError(
                f"{first[stem]} and {path} would both write {stem}.* into the output folder; "
                f"lift them into separate --out folders"
            )
        first[stem] = path
    return stems


def check_writable(out: str | Path) -> Path:
    """Create ``out`` if needed and prove it is writable, before any work is done."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".pointkit-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise PointkitError(f"{out}: output folder is not writable ({exc.strerror or exc})") from None
    return out


def _one_line(path: Path, exc: Exception) -> str:
    """What one image's failure says on one line, naming the image."""
    if isinstance(exc, PointkitError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{path}: cannot write its outputs ({exc})"
    return f"{path}: {type(exc).__name__}" + (f": {first_line(exc)}" if str(exc).strip() else "")


def lift_files(
    inputs: Iterable[str | Path],
    out: str | Path,
    fmt: str | Sequence[str] = "glb",
    checkpoint: str | Path | None = None,
    depth_scale: float = 1.0,
    mask: str = "auto",
    device: str = "auto",
    max_pixels: int = MAX_PIXELS,
    mesh_resolution: int = DEFAULT_MAX_SIDE,
    progress: bool = True,
    recursive: bool = False,
    skip_existing: bool = False,
    normals: bool = False,
    scale_from: str | None = None,
    on_image: Callable[[dict[str, Any]], None] | None = None,
    batch_size: int | None = None,
    max_memory_gb: float | None = None,
    backend: str = "auto",
) -> dict[str, Any]:
    """The ``pointkit lift`` job: every image of ``inputs`` (files and folders; ``recursive``: the
    folders' sub-folders too, mirrored under ``out``) into ``out``, in each format of ``fmt``
    (``normals``: normal maps too; ``write_outputs``; ``scale_from``: in metres, see ``lift``).
    ``on_image`` is called after each image with ``{"image", "done", "total"}`` plus ``"outputs"``
    (paths), ``"skipped": True`` or ``"error"`` (one line): the progress a driving program shows.
    The network sees ``batch_size`` images per forward (:func:`lift_batch`; None:
    ``GPU_BATCH`` on CUDA, 1 on the CPU, where batching buys nothing).

    A failing image is reported (one line on stderr, naming it) and the others go on; a single
    input file that fails raises. The model is loaded once, before the first image. With
    ``skip_existing`` an image whose files (``output_files``) all exist is not lifted again.

    Returns:
        ``{"out", "lifted", "skipped", "failed", "errors": {file: message}, "outputs": {file: [paths]}}``.
    """
    formats = parse_formats(fmt)
    device = _check_options(depth_scale, mesh_resolution, device, backend)
    if scale_from is not None:
        parse_scale_from(scale_from)
    if batch_size is not None and batch_size < 1:
        raise PointkitError(f"--batch-size must be at least 1, got {batch_size}")
    batch_size = batch_size or (GPU_BATCH if device.startswith("cuda") else 1)
    files = collect_images(inputs, recursive)
    stems = output_stems(files)
    out = check_writable(out)
    load_model(checkpoint, device, backend)
    run = _FolderRun(len(files), out, formats, normals, progress, on_image)
    todo = []
    for (path, _), stem in zip(files, stems):
        if skip_existing and all(p.is_file() for p in output_files(out, stem, formats, normals)):
            run.report(path, skipped=True)
        else:
            todo.append((path, stem))
    for start in range(0, len(todo), batch_size):
        chunk = todo[start : start + batch_size]
        paths = [path for path, _ in chunk]
        options = (depth_scale, mask, device, max_pixels, mesh_resolution, scale_from, max_memory_gb, backend)
        for (path, stem), result in zip(chunk, lift_batch(paths, checkpoint, *options)):
            run.write(path, stem, result)
    return run.summary()


class _FolderRun:
    """The bookkeeping of one :func:`lift_files` job: outputs and errors per image, the progress
    bar and ``on_image`` events; a single input image's failure is raised instead of counted."""

    def __init__(self, total: int, out: Path, formats, normals: bool, progress: bool, on_image):
        from tqdm import tqdm

        self.total, self.out, self.formats, self.normals, self.on_image = total, out, formats, normals, on_image
        self.outputs: dict[str, list[str]] = {}
        self.errors: dict[str, str] = {}
        self.skipped, self._done = 0, itertools.count(1)
        self.bar = tqdm(total=total, desc="lift", unit="img", disable=not progress or total < 2)

    def report(self, path: Path, **what) -> None:
        self.skipped += bool(what.get("skipped"))
        self.bar.update()
        if self.on_image:
            self.on_image({"image": str(path), "done": next(self._done), "total": self.total, **what})

    def write(self, path: Path, stem: str, result) -> None:
        """Write one image's files (``result``: its LiftResult or the exception that stopped it)."""
        try:
            if isinstance(result, BaseException):
                raise result
            self.outputs[str(path)] = [
                str(p) for p in write_outputs(result, self.out, stem, self.formats, self.normals)
            ]
            self.report(path, outputs=self.outputs[str(path)])
        except Exception as exc:  # one bad image must not stop a folder: report it, go on
            message = _one_line(path, exc)
            if self.total == 1:
                if not isinstance(exc, (PointkitError, OSError)):
                    raise  # a single image: the CLI reports it (traceback with --debug)
                raise PointkitError(message) from None
            self.errors[str(path)] = message
            self.bar.write(f"pointkit: {message}", file=sys.stderr)
            self.report(path, error=message)

    def summary(self) -> dict[str, Any]:
        self.bar.close()
        return {
            "out": str(self.out),
            "lifted": len(self.outputs),
            "skipped": self.skipped,
            "failed": len(self.errors),
            "errors": self.errors,
            "outputs": self.outputs,
        }
