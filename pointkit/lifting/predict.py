"""LiftNet's forward at input resolution: each image padded to a square with its own border
pixels, resized to the network's input, run (torch or ONNX, a batch per forward) and its outputs
mapped back to the image's own H x W."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from pointkit.masks import silhouette_prior


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
