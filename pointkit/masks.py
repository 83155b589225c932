r"""Object masks and what is computed from them: one module for every mask source.

Sources, in the order ``mask="auto"`` tries them (:func:`object_mask`):

1. the image's **alpha channel**, when it has transparent pixels;
2. the model's **learned mask** (LiftNet's mask head) refined by GrabCut seeded with it
   (:func:`refine_mask`; the unrefined mask if GrabCut lost the object, GrabCut from the border
   (3.) if the refinement grew into the frame's border: the head then marked background, as
   fine-tuned heads did on the temple's black cloth, refined coverage 0.5-0.8 of the image and
   0.6-1.0 of its border), unless the learned
   mask looks implausible (:func:`plausible_mask`: it must cover 0.5-90 % of the image and leave
   most of the image border as background) or the checkpoint says its training did not keep the
   head (metadata ``mask_head_trusted: false``: trained without mask loss, e.g. a fine-tune that
   moved the shared trunk; ``pointkit.lift`` then passes no logits);
3. **GrabCut** (:func:`grabcut_mask`), initialised with the image border as background: the
   documented fallback for a model without a mask head or with an implausible mask.

A user mask (``--mask PATH``) or ``"none"`` (every pixel) overrides all of them.

From a mask: :func:`inside_distance` (distance to the background, the image border counting as
background), :func:`silhouette_prior` (the optional LiftNet input channel) and
:func:`silhouette_heuristic` (the baseline every model is compared with: depth = -sqrt(distance)).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pointkit.defaults import MASK_SOURCES
from pointkit.errors import PointkitError
from pointkit.imaging import MAX_PIXELS, LoadedImage, load_image

MIN_OBJECT_PIXELS = 16
"""A mask with fewer object pixels counts as all background."""
MIN_IMAGE_SIDE = 2
"""A mesh needs a 2 x 2 block of pixels: a narrower image cannot be lifted."""
PLAUSIBLE_AREA = (0.005, 0.9)
"""A learned mask covering less or more of the image than this is not trusted (auto falls back)."""
PLAUSIBLE_BORDER = 0.35
"""A learned mask covering more than this share of the image border is not trusted."""


def clean_mask(mask: np.ndarray, keep: float = 0.1) -> np.ndarray:
    """Keep the connected components with at least ``keep`` x the largest one's area. (H, W) bool."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    areas = stats[1:, cv2.CC_STAT_AREA]
    good = np.flatnonzero(areas >= keep * areas.max()) + 1
    return np.isin(labels, good)


def grabcut_mask(rgb: np.ndarray, work_side: int = 256, iterations: int = 4, border: float = 0.01) -> np.ndarray:
    """Classical segmentation for images without a mask: OpenCV GrabCut initialised with a frame
    of ``border`` x the longer side as background (the object is assumed not to touch it), run at
    most ``work_side`` px on the longer side and upsampled. (H, W, 3) uint8 -> (H, W) bool.
    Deterministic (OpenCV's RNG is seeded). Known failures: objects cut by the frame, backgrounds
    with the object's colours, clutter or several objects (the whole scene is kept)."""
    return _grabcut(rgb, None, work_side, iterations, border)


def _grabcut(
    rgb: np.ndarray, init: np.ndarray | None, work_side: int, iterations: int, border: float = 0.01
) -> np.ndarray:
    """GrabCut of (H, W, 3) uint8 at most ``work_side`` px on the longer side, upsampled to (H, W)
    bool. ``init``: (H, W) uint8 GC_* labels (None: a ``border`` frame is background)."""
    H, W = rgb.shape[:2]
    scale = min(1.0, work_side / max(H, W))
    size = (max(3, round(W * scale)), max(3, round(H * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    h, w = small.shape[:2]
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's GMM initialisation is k-means with OpenCV's RNG: same image, same mask
    if init is None:
        gc = np.zeros((h, w), np.uint8)
        b = max(1, round(border * max(h, w)))
        cv2.grabCut(
            np.ascontiguousarray(small[..., ::-1]),
            gc,
            (b, b, w - 2 * b, h - 2 * b),
            bgd,
            fgd,
            iterations,
            cv2.GC_INIT_WITH_RECT,
        )
    else:
        gc = cv2.resize(init, size, interpolation=cv2.INTER_NEAREST) if scale < 1 else init.copy()
        cv2.grabCut(np.ascontiguousarray(small[..., ::-1]), gc, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    fg = ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).astype(np.float32)
    return cv2.resize(fg, (W, H), interpolation=cv2.INTER_LINEAR) >= 0.5 if scale < 1 else fg.astype(bool)


SURE_LOGIT = 4.0
"""Mask logits beyond +-this are sure object / background for :func:`refine_mask`."""


def refine_mask(rgb: np.ndarray, logits: np.ndarray, work_side: int = 256, iterations: int = 3) -> np.ndarray:
    """The learned mask refined by GrabCut: pixels with logits above ``SURE_LOGIT`` are sure object,
    below ``-SURE_LOGIT`` sure background, the rest probable object / background by the logit's
    sign; GrabCut's colour models then settle the uncertain band (the network is coarse, 128 px,
    at edges). (H, W, 3) uint8, (H, W) float32 -> (H, W) bool.

    On the real-scan test views this raised the learned mask's IoU from 0.62-0.78 to 0.79-0.97
    (docs/model-card.md)."""
    init = np.where(logits > 0, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    init[logits > SURE_LOGIT] = cv2.GC_FGD
    init[logits < -SURE_LOGIT] = cv2.GC_BGD
    if not (init == cv2.GC_FGD).any() and not (init == cv2.GC_PR_FGD).any():
        return logits > 0
    if not (init == cv2.GC_BGD).any() and not (init == cv2.GC_PR_BGD).any():
        return logits > 0
    return _grabcut(rgb, init, work_side, iterations)


def border_share(mask: np.ndarray) -> float:
    """Share of the image's border pixels that are object. (H, W) bool -> float in [0, 1]."""
    edge = np.concatenate([mask[0], mask[-1], mask[1:-1, 0], mask[1:-1, -1]])
    return float(edge.mean())


def plausible_mask(mask: np.ndarray) -> bool:
    """A learned mask is trusted when it covers PLAUSIBLE_AREA of the image and at most
    PLAUSIBLE_BORDER of its border (a photographed object rarely fills the frame's edges)."""
    area = float(mask.mean())
    return PLAUSIBLE_AREA[0] <= area <= PLAUSIBLE_AREA[1] and border_share(mask) <= PLAUSIBLE_BORDER


def check_mask_source(mask: str | Path | np.ndarray) -> None:
    """Refuse, before any image is read, a ``mask`` that is neither a source name
    (``MASK_SOURCES``) nor a file (a typo such as ``grabcutt``); an (H, W) array passes.

    Raises:
        PointkitError: one line listing the names.
    """
    if isinstance(mask, np.ndarray) or mask in MASK_SOURCES or Path(mask).is_file():
        return
    raise PointkitError(f"--mask {str(mask)!r}: use one of {', '.join(MASK_SOURCES)} or the path of a mask image file")


def object_mask(
    image: LoadedImage,
    mask_logits: np.ndarray | None,
    mask: str | Path | np.ndarray = "auto",
    max_pixels: int = MAX_PIXELS,
) -> tuple[np.ndarray, str]:
    """The object mask and where it came from.

    ``mask``: ``"auto"`` (alpha channel, else the learned mask refined by GrabCut if plausible,
    else GrabCut; see the module doc), ``"alpha"``, ``"network"`` (the learned mask as it is),
    ``"grabcut"``, ``"none"`` (every pixel), a mask file (white / non-zero = object, same size as
    the image) or an (H, W) bool array.

    Raises:
        PointkitError: an image too small to lift (checked first), bad mask file / size, a source the
            image or model lacks, or no object pixels.
    """
    H, W = image.size
    if H * W < MIN_OBJECT_PIXELS or min(H, W) < MIN_IMAGE_SIDE:  # before GrabCut, which fails on it
        raise PointkitError(
            f"{image.source}: {W}x{H} is too small to lift (at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} "
            f"and {MIN_OBJECT_PIXELS} pixels)"
        )
    name = mask if isinstance(mask, str) else None
    has_alpha = image.alpha is not None and (image.alpha < 128).any()
    if isinstance(mask, np.ndarray):
        out, source = mask.astype(bool), "array"
    elif name == "none":
        out, source = np.ones((H, W), bool), "none"
    elif name == "alpha" or (name == "auto" and has_alpha):
        if not has_alpha:
            raise PointkitError(f"{image.source}: --mask alpha, but the image has no transparent pixels")
        out, source = image.alpha >= 128, "alpha"
    elif name == "network":
        if mask_logits is None:
            raise PointkitError("--mask network: this model has no mask head; use --mask auto or grabcut")
        out, source = clean_mask(mask_logits > 0), "network"
    elif name == "auto" and mask_logits is not None and plausible_mask(clean_mask(mask_logits > 0)):
        out, source = clean_mask(refine_mask(image.rgb, mask_logits)), "network+grabcut"
        if out.mean() < PLAUSIBLE_AREA[0]:  # GrabCut lost the object: the learned mask as it is
            out, source = clean_mask(mask_logits > 0), "network"
        elif not plausible_mask(out):  # seeded by it, GrabCut took the background: the head is wrong
            out, source = clean_mask(grabcut_mask(image.rgb)), "grabcut"
            if out.sum() < MIN_OBJECT_PIXELS:  # GrabCut from the border finds nothing either
                out, source = clean_mask(mask_logits > 0), "network"
    elif name in ("auto", "grabcut"):
        out, source = clean_mask(grabcut_mask(image.rgb)), "grabcut"
    else:
        loaded = load_image(mask, max_pixels)
        gray = loaded.alpha if loaded.alpha is not None and (loaded.alpha < 128).any() else loaded.rgb.max(2)
        out, source = gray >= 128, str(mask)
    if out.shape != (H, W):
        raise PointkitError(f"{source}: mask is {out.shape[1]}x{out.shape[0]} but the image {image.source} is {W}x{H}")
    if out.sum() < MIN_OBJECT_PIXELS:
        raise PointkitError(
            f"{image.source}: the object mask ({source}) is all background; pass --mask PATH or --mask none"
        )
    return out, source


def inside_distance(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance (px) of each object pixel to the nearest background pixel, the image
    border counting as background; 0 off the object. (H, W) bool -> (H, W) float32."""
    padded = np.pad(mask.astype(np.uint8), 1)
    return cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]


def silhouette_heuristic(mask: np.ndarray) -> np.ndarray:
    """The silhouette baseline: depth = -sqrt(distance to the boundary) on the object (nearer in
    the middle, as for a round body), 0 off it. (H, W) bool -> (H, W) float32."""
    return (-np.sqrt(inside_distance(mask))).astype(np.float32)


def silhouette_prior(mask: np.ndarray) -> np.ndarray:
    """LiftNet's optional fourth input channel: ``sqrt(distance / r)`` on the object, with r the
    equivalent radius sqrt(area / pi), so it does not depend on the object's size in pixels
    (about 1 in the middle of a disc, 0 on its boundary); 0 off the object.
    (H, W) bool -> (H, W) float32."""
    area = float(mask.sum())
    if area < 1:
        return np.zeros(mask.shape, np.float32)
    radius = np.sqrt(area / np.pi)
    return np.sqrt(inside_distance(mask) / radius).astype(np.float32)


def silhouette_prior_batch(masks):
    """:func:`silhouette_prior` of a batch: (B, S, S) bool tensor -> (B, 1, S, S) float32 tensor on
    the same device. Computed with OpenCV on the CPU (exact, and 0.1 ms per 128 px mask)."""
    import torch

    cpu = masks.detach().to("cpu", torch.bool).numpy()
    prior = np.stack([silhouette_prior(m) for m in cpu])[:, None]
    return torch.from_numpy(prior).to(masks.device)
