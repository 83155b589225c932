"""Robust image loading for ``pointkit lift``: any common file in, (H, W, 3) uint8 RGB out.

Handles JPEG / PNG / TIFF / WebP (whatever Pillow decodes), grayscale, palette, RGBA / LA
(the alpha channel is kept: ``pointkit lift --mask auto`` uses it when it has transparent
pixels), 16-bit and float images (scaled to 8 bits), and EXIF orientation (the pixels are
turned upright, as every photo viewer shows them). Anything else is a :class:`PointkitError`
with one line naming the file: a missing, empty, truncated or non-image file, or an image
with more than ``max_pixels`` pixels (checked from the header, before the pixels are decoded).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image, ImageOps

from pointkit.defaults import MAX_PIXELS
from pointkit.errors import PointkitError


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp", ".bmp", ".ppm", ".pgm")
"""Image files every command picks up from a folder (lift, match, adapt): what Pillow decodes."""


@dataclass
class LoadedImage:
    """A decoded image.

    Attributes:
        rgb: (H, W, 3) uint8, upright (EXIF orientation applied).
        alpha: (H, W) uint8 alpha channel, or None when the file has none.
        source: the file name, for messages ("<array>" for arrays).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    source: str

    @property
    def size(self) -> tuple[int, int]:
        """(H, W)."""
        return self.rgb.shape[:2]


def _to_uint8(array: np.ndarray) -> np.ndarray:
    """Scale an integer or float single/multi-channel array to uint8 (16-bit: the high byte)."""
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):  # 32-bit 'I' images: 8-bit, 16-bit or larger range
        top = int(array.max())
        scale = 1.0 if top <= 255 else 255.0 / 65535 if top <= 65535 else 255.0 / top
        return (array.astype(np.float64) * scale).clip(0, 255).astype(np.uint8)
    array = np.nan_to_num(array.astype(np.float64))
    top = 1.0 if array.max() <= 1.0 else float(array.max())
    return (array / top * 255.0 + 0.5).clip(0, 255).astype(np.uint8)


def from_array(array: np.ndarray, source: str = "<array>") -> LoadedImage:
    """A :class:`LoadedImage` from an (H, W), (H, W, 3) or (H, W, 4) array (uint8, uint16 or float in [0, 1])."""
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or min(array.shape[:2]) < 1:
        raise PointkitError(
            f"{source}: expected an (H, W), (H, W, 3) or (H, W, 4) image array, got shape {array.shape}"
        )
    array = _to_uint8(array)
    alpha = array[..., 3].copy() if array.shape[2] == 4 else None
    rgb = np.repeat(array, 3, 2) if array.shape[2] == 1 else array[..., :3]
    return LoadedImage(np.ascontiguousarray(rgb), alpha, source)


def load_image(
    path: str | Path, max_pixels: int = MAX_PIXELS, before_decode: Callable[[int, int], None] | None = None
) -> LoadedImage:
    """Decode an image file, upright, as 8-bit RGB (+ alpha).

    Args:
        path: image file (JPEG, PNG, TIFF, WebP, BMP, ...).
        max_pixels: refuse larger images (checked before decoding).
        before_decode: called with (width, height) from the header, before the pixels are
            decoded (a caller's own size check, e.g. a memory estimate; it raises to refuse).

    Returns:
        LoadedImage with ``rgb`` (H, W, 3) uint8 and ``alpha`` (H, W) uint8 or None.

    Raises:
        PointkitError: missing, empty, truncated, not an image, or too large.
    """
    path = Path(path)
    if not path.is_file():
        raise PointkitError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise PointkitError(f"{path}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns/raises at its limit; ours below says what to do instead.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            old, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                image = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = old
    except Exception:
        raise PointkitError(f"{path}: not an image Pillow can read (JPEG, PNG, TIFF, WebP, BMP)") from None
    with image:
        w, h = image.size
        if w * h == 0:
            raise PointkitError(f"{path}: the image has zero size ({w}x{h})")
        if w * h > max_pixels:
            raise PointkitError(
                f"{path}: {w}x{h} is {w * h / 1e6:.0f} Mpixel, above the limit of {max_pixels / 1e6:.0f} Mpixel; "
                f"downscale it or raise --max-pixels"
            )
        if before_decode is not None:
            before_decode(w, h)
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
        except Exception as exc:  # truncated data: OSError; broken EXIF or codec: various
            raise PointkitError(f"{path}: cannot decode the image, the file is truncated or corrupt ({exc})") from None
        if image.mode == "P":
            image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        elif image.mode in ("CMYK", "YCbCr", "LAB", "HSV", "1"):
            image = image.convert("RGB")
        elif image.mode in ("LA", "PA"):
            image = image.convert("RGBA")
        array = np.asarray(image)
    return from_array(array, str(path))


def colorize_depth(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(H, W) depth -> (H, W, 3) uint8 RGB viridis: near = yellow, far = purple (per-image range),
    black off the object (``mask`` (H, W) bool)."""
    import cv2

    out = np.zeros(depth.shape + (3,), np.uint8)
    if mask.any():
        d = depth[mask]
        lo, hi = float(d.min()), float(d.max())
        level = np.zeros(depth.shape, np.uint8)
        level[mask] = np.round(255 * (hi - d) / max(hi - lo, 1e-9)).astype(np.uint8)
        out[mask] = cv2.applyColorMap(level, cv2.COLORMAP_VIRIDIS)[mask][:, ::-1]  # BGR -> RGB
    return out
