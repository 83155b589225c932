"""Views of a dataset object resized to a network's square input."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def resize_views(images: np.ndarray, masks: np.ndarray, depth: np.ndarray | None, size: int):
    """(V,H,W,3) uint8, (V,H,W) bool, (V,H,W) float32 | None -> the same at (size, size).

    Images are resampled bilinearly with antialiasing; masks and depth by nearest pixel centre
    (depth values stay exact samples of the surface, and stay 0 off the object).
    """
    if images.shape[1:3] == (size, size):
        return images, masks, depth
    img = torch.from_numpy(images).permute(0, 3, 1, 2).float()
    img = F.interpolate(img, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    img = img.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    m = F.interpolate(torch.from_numpy(masks).float()[:, None], size=(size, size), mode="nearest-exact")
    out_depth = None
    if depth is not None:
        out_depth = F.interpolate(torch.from_numpy(depth)[:, None], size=(size, size), mode="nearest-exact")[
            :, 0
        ].numpy()
    return img, m[:, 0].numpy() > 0.5, out_depth
