"""Backgrounds of rendered views, once, in torch: the painters and the two designed mixes.

Only torch and numpy, like :mod:`pointkit.shading`: the engine imports this module on GPU
machines that have torch alone (the asset reader loads only when a photo style reads an asset
folder).

Painters (batched ``(n, 3, H, W)`` float, on the device of their inputs): a linear gradient at
an angle, "over" compositing of a coverage, soft discs, hard rectangles and ellipses, value
noise (:func:`pointkit.shading.octave_noise`), a gaussian blur and square or oblong
photo crops, resampled bilinearly or by area (OpenCV's INTER_AREA).

Two mixes draw their parameters and call them:

- :func:`studio_backgrounds`, the engine's (``torch.Generator``, a batch of views at once): an
  angled two-colour gradient, colour noise and soft clutter discs, or a square photo crop;
- :func:`photo_style_background`, the fast renderer's photo style (``np.random.Generator``, one
  view): black or white cloth with folds and grain, a vertical gradient, blurred clutter of
  rectangles and ellipses, or a photo crop (flip, depth of field, exposure); plus
  :func:`add_floor`, a floor band with a contact shadow under the object. The engine draws this
  mix too when asked (:func:`photo_style_backgrounds`, ``train --synth-backgrounds photo``).

The engine's default stays its own mix, the shipped model's training data: which mix trains
better is measured on held-out real objects (docs/engine.md, "Backgrounds").
"""

from __future__ import annotations

import fnmatch
import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from pointkit.errors import PointkitError
from pointkit.shading import octave_noise

PHOTO_STYLE_KINDS = ("photo", "black_cloth", "white_cloth", "gradient", "clutter")
"""The photo style's kinds: a photo crop, or one of the procedural ones after it."""

ENGINE_MIXES = ("studio", "photo")
"""The mixes the engine can draw: its own (:func:`studio_backgrounds`), or the photo style's
(:func:`photo_style_backgrounds`)."""


# ------------------------------------------------------------------------------------------ painters


def pixel_grid(h: int, w: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel centres (H, W) as (y, x) in image units, each axis in (-0.5, 0.5)."""
    ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) / h - 0.5
    xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) / w - 0.5
    return torch.meshgrid(ys, xs, indexing="ij")


def linear_gradient(c0: torch.Tensor, c1: torch.Tensor, angle: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """(n, 3, H, W) from colour ``c0`` (n, 3, 1, 1) to ``c1`` along direction ``angle`` (n, 1, 1)
    (radians, 0 = +x, pi/2 = down), reaching each at +-0.5 image units from the centre."""
    yy, xx = pixel_grid(h, w, c0.device)
    ramp = (torch.cos(angle) * xx + torch.sin(angle) * yy)[:, None] + 0.5
    return c0 + (c1 - c0) * ramp.clamp(0, 1)


def over(image: torch.Tensor, coverage: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """``colour`` (n, 3, 1, 1) painted over ``image`` (n, 3, H, W) where ``coverage`` (n, 1, H, W) in [0, 1]."""
    return image * (1 - coverage) + colour * coverage


def soft_disc(yy: torch.Tensor, xx: torch.Tensor, cy, cx, radius, softness: float) -> torch.Tensor:
    """Coverage (n, H, W) of discs of ``radius`` at (cy, cx) (n, 1, 1), in image units, with a
    sigmoid edge of width ``softness``."""
    return torch.sigmoid((radius - torch.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)) / softness)


def rectangle(h: int, w: int, cx: float, cy: float, sx: float, sy: float) -> torch.Tensor:
    """(H, W) bool: pixels (column x, row y) with |x - cx| <= sx and |y - cy| <= sy (pixel units)."""
    y = torch.arange(h, dtype=torch.float32)[:, None]
    x = torch.arange(w, dtype=torch.float32)[None]
    return ((x - cx).abs() <= sx) & ((y - cy).abs() <= sy)


def ellipse(h: int, w: int, cx: float, cy: float, sx: float, sy: float, degrees: float) -> torch.Tensor:
    """(H, W) bool: pixels whose centre is inside the ellipse of semi-axes (sx, sy) + 0.5 at
    (cx, cy) turned by ``degrees`` (the half pixel: OpenCV fills its outline pixels too)."""
    y = torch.arange(h, dtype=torch.float32)[:, None] - cy
    x = torch.arange(w, dtype=torch.float32)[None] - cx
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return ((x * c + y * s) / (sx + 0.5)) ** 2 + ((y * c - x * s) / (sy + 0.5)) ** 2 <= 1


def blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (n, C, H, W) with OpenCV's kernel for float images (8 sigma + 1 taps,
    odd, normalised) and its default border (reflect without repeating the edge).

    By hand rather than kornia's ``gaussian_blur2d`` (the same sums): the engine's photo mix
    blurs on GPU machines that have torch alone.
    """
    size = int(round(sigma * 8 + 1)) | 1
    size = min(size, 2 * (min(images.shape[-2:]) // 2) - 1)  # reflection needs the pad under the side
    if size < 3:
        return images
    taps = torch.arange(size, dtype=images.dtype, device=images.device) - size // 2
    kernel = torch.exp(-(taps**2) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    n, c, h, w = images.shape
    flat = F.pad(images.reshape(n * c, 1, h, w), (size // 2,) * 4, mode="reflect")
    flat = F.conv2d(F.conv2d(flat, kernel.view(1, 1, 1, -1)), kernel.view(1, 1, -1, 1))
    return flat.reshape(n, c, h, w)


def crop_photos(
    photos: torch.Tensor,
    x0: torch.Tensor,
    y0: torch.Tensor,
    width: torch.Tensor,
    height: torch.Tensor,
    size: tuple[int, int],
    box_filter: bool = False,
) -> torch.Tensor:
    """Crops [x0, x0 + width) x [y0, y0 + height) (pixels; each (n,)) of ``photos`` (n, C, H, W)
    float, resampled to ``size`` (h, w) -> (n, C, h, w): bilinearly (``grid_sample``), or with
    ``box_filter`` as the mean of each output pixel's footprint (OpenCV's INTER_AREA), so that
    shrinking a crop does not alias."""
    if box_filter:
        rows = _area_weights(y0, height, size[0], photos.shape[-2])
        cols = _area_weights(x0, width, size[1], photos.shape[-1])
        return torch.einsum("nhy,ncyx,nwx->nchw", rows, photos, cols)
    n, _, H, W = photos.shape
    # Affine grids that map the output square onto the crop, in grid_sample's [-1, 1] units.
    theta = torch.zeros(n, 2, 3, device=photos.device)
    theta[:, 0, 0], theta[:, 1, 1] = width / W, height / H
    theta[:, 0, 2] = (2 * x0 + width) / W - 1
    theta[:, 1, 2] = (2 * y0 + height) / H - 1
    grid = F.affine_grid(theta, (n, photos.shape[1], *size), align_corners=False)
    return F.grid_sample(photos, grid, mode="bilinear", align_corners=False)


def crop_photo(photo: np.ndarray, x0: int, y0: int, width: int, height: int, h: int, w: int) -> np.ndarray:
    """(h, w, C) float32: [x0, x0 + width) x [y0, y0 + height) of one photo (H, W, C) resampled
    by area (:func:`crop_photos` with ``box_filter``), for numpy callers."""
    box = [torch.tensor([float(v)]) for v in (x0, y0, width, height)]
    return _array(crop_photos(_image(photo), *box, (h, w), box_filter=True))


def vertical_gradient(top, bottom, h: int, w: int) -> np.ndarray:
    """(h, w, 3) float32 from colour ``top`` (3,) at the top edge to ``bottom`` at the bottom
    edge (:func:`linear_gradient` downwards), for numpy callers."""
    c0, c1 = (torch.as_tensor(np.asarray(c, np.float32)).view(1, 3, 1, 1) for c in (top, bottom))
    return _array(linear_gradient(c0, c1, torch.full((1, 1, 1), math.pi / 2), h, w))


def _area_weights(start: torch.Tensor, length: torch.Tensor, out: int, size: int) -> torch.Tensor:
    """(n, out, size): the share of output pixel i's footprint [start + i s, start + (i + 1) s),
    s = length / out, that input pixel [y, y + 1) covers. By hand: torch's "area" resampling
    (adaptive average pooling) has whole-pixel bins only, and kornia has no crop-and-resize by area."""
    scale = (length / out)[:, None, None]
    lo = start[:, None, None] + torch.arange(out, device=start.device)[:, None] * scale
    pixel = torch.arange(size, device=start.device, dtype=lo.dtype)
    overlap = torch.minimum(lo + scale, pixel + 1) - torch.maximum(lo, pixel)
    return overlap.clamp(min=0) / scale


# ------------------------------------------------------------------------------ the engine's mix


def _uniform(shape, generator: torch.Generator, device, lo=0.0, hi=1.0) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=generator, device=device)


def studio_backgrounds(
    n: int, size: int, generator: torch.Generator, device, photos: torch.Tensor | None = None, photo_prob: float = 0.5
) -> torch.Tensor:
    """The engine's mix: (n, 3, S, S) float backgrounds in [0, 1], all drawn from ``generator``.

    A two-colour gradient at a random angle, plus colour noise (3 octaves) and, for 60 % of the
    views, 8 soft discs of random colour, radius and opacity; or, with probability
    ``photo_prob``, a random square crop (40-100 % of the shorter side) of one of ``photos``
    (M, 3, H, W) uint8.
    """
    g = generator
    c0, c1 = _uniform((n, 3, 1, 1), g, device), _uniform((n, 3, 1, 1), g, device)
    out = linear_gradient(c0, c1, _uniform((n, 1, 1), g, device, 0, 2 * math.pi), size, size)
    amplitude = _uniform((n, 1, 1, 1), g, device, 0, 0.25)
    octaves = [torch.randn(n, 3, o + 1, o + 1, generator=g, device=device) for o in (4, 8, 16)]
    out = out + amplitude * (octave_noise(octaves, (size, size)) / 1.5)
    k = 8
    cx, cy = _uniform((n, k, 1, 1), g, device, -0.6, 0.6), _uniform((n, k, 1, 1), g, device, -0.6, 0.6)
    r = _uniform((n, k, 1, 1), g, device, 0.05, 0.3)
    alpha = _uniform((n, k, 1, 1), g, device) * (_uniform((n, 1, 1, 1), g, device) < 0.6)
    col = _uniform((n, k, 3), g, device)
    yy, xx = pixel_grid(size, size, device)
    for j in range(k):
        coverage = (alpha[:, j] * soft_disc(yy, xx, cy[:, j], cx[:, j], r[:, j], 0.03))[:, None]
        out = over(out, coverage, col[:, j, :, None, None])
    if photos is not None and len(photos):
        use = _uniform((n,), g, device) < photo_prob
        pick = torch.randint(len(photos), (n,), generator=g, device=device)
        H, W = photos.shape[-2:]
        side = torch.floor(_uniform((n,), g, device, 0.4, 1.0) * min(H, W)).clamp(min=2)
        x0 = torch.floor(_uniform((n,), g, device) * (W - side + 1))
        y0 = torch.floor(_uniform((n,), g, device) * (H - side + 1))
        picked = photos[pick.to(photos.device)].to(device).float() / 255.0
        out = torch.where(use[:, None, None, None], crop_photos(picked, x0, y0, side, side, (size, size)), out)
    return out.clamp(0, 1)


# -------------------------------------------------------------------------- the photo style's mix


def _image(array: np.ndarray) -> torch.Tensor:
    """(H, W, C) numpy -> (1, C, H, W) float32 torch."""
    return torch.from_numpy(np.ascontiguousarray(array, np.float32)).permute(2, 0, 1)[None]


def _array(image: torch.Tensor) -> np.ndarray:
    """(1, C, H, W) torch -> (H, W, C) float32 numpy."""
    return np.ascontiguousarray(image[0].permute(1, 2, 0).numpy(), np.float32)


def photo_style_background(
    rng: np.random.Generator,
    h: int,
    w: int,
    root: Path | None,
    split: str = "all",
    photo_prob: float = 0.5,
    kind: str | None = None,
) -> tuple[np.ndarray, str]:
    """The photo style's mix: a linear-RGB background (H, W, 3) float32 and its kind
    ("photo:<file>" or a procedural kind), drawn from ``rng``.

    ``kind`` forces one: a procedural kind of PHOTO_STYLE_KINDS, ``"photo"``, or ``"photo:GLOB"``
    (photos of the split whose file name matches GLOB, e.g. ``"photo:humus_*"``); None draws a
    photo of ``root``'s ``split`` with probability ``photo_prob``, else a procedural kind.
    """
    photos = []
    if root is not None:
        # The asset reader (cv2, the render package) only with an asset folder: the engine
        # imports this module and draws procedural kinds on machines that have torch alone.
        from pointkit.render import assets

        photos = assets.list_backgrounds(root, split)
    if kind is not None and kind.startswith("photo"):
        pattern = kind.partition(":")[2] or "*"
        photos = [p for p in photos if fnmatch.fnmatch(p.name, pattern)]
        if not photos:
            raise PointkitError(f"background {kind!r}: no {split} background photo matches")
    elif kind is not None and kind not in PHOTO_STYLE_KINDS:
        raise PointkitError(f"background {kind!r}: use one of {', '.join(PHOTO_STYLE_KINDS)} or photo:GLOB")
    if photos and (kind is None and rng.uniform() < photo_prob or kind is not None and kind.startswith("photo")):
        path = photos[int(rng.integers(len(photos)))]
        return _array(_photo_crop(rng, assets.background_photo(str(path)), h, w)), f"photo:{path.name}"
    kind = kind or str(rng.choice(PHOTO_STYLE_KINDS[1:]))
    if kind in ("black_cloth", "white_cloth"):
        out = _cloth(rng, h, w, kind == "black_cloth")
    elif kind == "gradient":
        return vertical_gradient(*rng.uniform(0.0, 0.8, (2, 3)) ** 2, h, w), kind
    else:
        out = _clutter(rng, h, w)
    return _array(out), kind


def photo_style_backgrounds(
    masks: torch.Tensor,
    generator: torch.Generator,
    photos: torch.Tensor | None = None,
    photo_prob: float = 0.5,
    floor_prob: float = 0.35,
) -> torch.Tensor:
    """The photo style's mix for a batch of views, as the engine's display values: (n, 3, S, S)
    in [0, 1] on the masks' device, for object masks (n, S, S) bool.

    Per view, from a numpy stream seeded by ``generator``: with probability ``photo_prob`` a
    photo-style crop of one of ``photos`` (M, 3, H, W) uint8 (the bank's), else a procedural kind
    of the photo style; with probability ``floor_prob`` a floor under the mask (as
    ``FastRenderer``'s default). Linear light -> display by gamma 2.2. Per view on the CPU:
    slower than :func:`studio_backgrounds` on a GPU.
    """
    n, size = masks.shape[0], masks.shape[-1]
    seeds = torch.randint(2**62, (n,), generator=generator, device=generator.device).tolist()
    cpu_masks = masks.cpu().numpy()
    out = []
    for seed, mask in zip(seeds, cpu_masks):
        rng = np.random.default_rng(seed)
        if photos is not None and len(photos) and rng.uniform() < photo_prob:
            photo = photos[int(rng.integers(len(photos)))].permute(1, 2, 0).cpu().numpy()
            image = _array(_photo_crop(rng, (photo / np.float32(255)) ** np.float32(2.2), size, size))
        else:
            image = photo_style_background(rng, size, size, None)[0]
        if rng.uniform() < floor_prob:
            image = add_floor(rng, image, mask)
        out.append(image)
    linear = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return (linear.clamp(0, 1) ** (1 / 2.2)).to(masks.device)


def _photo_crop(rng: np.random.Generator, photo: np.ndarray, h: int, w: int) -> torch.Tensor:
    """(1, 3, H, W): a box-filtered crop of ``photo`` (linear, (h', w', 3)) of 40-100 % of its
    height at the view's aspect, flipped half the time, with depth of field half the time and an
    exposure of x0.6-1.3."""
    ih, iw = photo.shape[:2]
    side = rng.uniform(0.4, 1.0) * min(ih, iw)
    ch, cw = int(side), min(int(side * w / h), iw)
    y0, x0 = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
    box = [torch.tensor([float(v)]) for v in (x0, y0, cw, ch)]
    out = crop_photos(_image(photo), *box, (h, w), box_filter=True)
    if rng.uniform() < 0.5:
        out = out.flip(-1)
    if rng.uniform() < 0.5:  # depth of field
        out = blur(out, rng.uniform(0.5, 3.0) * w / 128)
    return out * float(rng.uniform(0.6, 1.3))


def _cloth(rng: np.random.Generator, h: int, w: int, black: bool) -> torch.Tensor:
    """(1, 3, H, W) black or white cloth: a level, soft folds (value noise), fine grain, a tint."""
    level = rng.uniform(0.005, 0.03) if black else rng.uniform(0.45, 0.85)
    cells = int(rng.integers(3, 7))
    lattice = torch.from_numpy(rng.uniform(0, 1, (1, 1, cells, cells)).astype(np.float32))
    folds = 1 + rng.uniform(0.1, 0.35) * (octave_noise([lattice], (h, w)) - 0.5)
    grain = 1 + 0.03 * blur(torch.from_numpy(rng.normal(0, 1, (1, 1, h, w)).astype(np.float32)), 0.7)
    tint = torch.from_numpy(rng.uniform(0.9, 1.1, 3).astype(np.float32))[None, :, None, None]
    return (level * folds * grain) * tint


def _clutter(rng: np.random.Generator, h: int, w: int) -> torch.Tensor:
    """(1, 3, H, W): a flat colour under 5-19 rectangles and ellipses of random colour, blurred."""
    out = torch.ones(1, 3, h, w) * torch.from_numpy((rng.uniform(0.05, 0.6, 3) ** 2).astype(np.float32))[:, None, None]
    for _ in range(int(rng.integers(5, 20))):
        colour = torch.from_numpy((rng.uniform(0, 1, 3) ** 2).astype(np.float32))[None, :, None, None]
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        sx, sy = int(rng.integers(2, w // 3 + 3)), int(rng.integers(2, h // 3 + 3))
        if rng.uniform() < 0.5:
            shape = rectangle(h, w, cx, cy, sx, sy)
        else:
            shape = ellipse(h, w, cx, cy, sx, sy, float(rng.uniform(0, 180)))
        out = over(out, shape.float()[None, None], colour)
    return blur(out, rng.uniform(0.5, 4.0) * w / 128)


def add_floor(rng: np.random.Generator, background: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A lower band (table / floor) lighter or darker than ``background`` (H, W, 3), with a soft
    contact shadow under the object's silhouette ``mask`` (H, W) bool (the mask is not changed)."""
    h, w = mask.shape
    rows = np.nonzero(mask.any(1))[0]
    bottom = rows.max() if len(rows) else int(0.8 * h)
    horizon = int(np.clip(bottom - rng.uniform(0.05, 0.25) * h, 0.3 * h, h - 2))
    image = _image(background)
    band = ((torch.arange(h, dtype=torch.float32)[:, None] - horizon) / max(1.0, 0.02 * h)).clamp(0, 1)
    floor = image.mean((2, 3), keepdim=True) * float(rng.uniform(0.3, 2.0)) + float(rng.uniform(0, 0.05))
    out = image * (1 - band) + (0.3 * image + 0.7 * floor) * band
    # contact shadow: the silhouette moved down onto the floor, blurred
    shift = int(rng.uniform(0.0, 0.04) * h)
    moved = torch.zeros(1, 1, h, w)
    moved[..., shift:, :] = torch.from_numpy(mask[: h - shift].astype(np.float32))
    shadow = blur(moved, max(1.0, rng.uniform(0.02, 0.06) * h))
    shadow = shadow / max(float(shadow.max()), 1e-6) * float(rng.uniform(0.3, 0.7))
    return _array(out * (1 - shadow * band))
