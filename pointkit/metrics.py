r"""Depth evaluation (paper §5.1): alignment of a prediction to ground truth and the error metrics.

Depth from correspondences is defined only up to ``d -> a d + b u + c v + e``, so every metric is
computed after an alignment:

* ``"paper"``: exactly §5.1, ``d* = a (d - median d) + median gt`` with ``a = sum(d gt) / sum(d^2)``
  (sums over mask pixels, on the raw values as the paper writes it);
* ``"ls"``: least-squares scale and shift ``a d + e``;
* ``"affine"``: least-squares ``a d + b u + c v + e``, the loss's true ambiguity.
"""

from __future__ import annotations

import torch

MODES = ("paper", "ls", "affine")


def _flatten(pred, gt, mask):
    if pred.shape != gt.shape or pred.shape != mask.shape:
        raise ValueError(
            f"pred, gt and mask must have one shape, got {tuple(pred.shape)}, {tuple(gt.shape)}, {tuple(mask.shape)}"
        )
    if pred.ndim == 4:
        if pred.shape[1] != 1:
            raise ValueError(f"expected (B, 1, H, W) depth, got {tuple(pred.shape)}")
    elif pred.ndim != 3:
        raise ValueError(f"expected (B, H, W) or (B, 1, H, W) depth, got {tuple(pred.shape)}")
    B = pred.shape[0]
    return pred.reshape(B, -1), gt.reshape(B, -1), mask.reshape(B, -1).bool()


def masked_median(x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(B, M) values, (B, M) mask -> (B,) medians (mean of the two middle values, as numpy)."""
    return torch.nanquantile(torch.where(m, x, torch.full_like(x, float("nan"))), 0.5, dim=-1)


def _least_squares(basis: torch.Tensor, target: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-image weighted least squares. basis (B, M, k), target (B, M), w (B, M) -> fitted (B, M)."""
    bw = basis * w.unsqueeze(-1)
    A = basis.transpose(1, 2) @ bw
    # Ridge at rounding level keeps an all-masked or constant image finite without biasing real fits.
    A = A + 10 * torch.finfo(A.dtype).eps * A.diagonal(dim1=1, dim2=2).sum(-1)[:, None, None] * torch.eye(
        A.shape[-1], dtype=A.dtype, device=A.device
    )
    coef = torch.linalg.solve(A, (bw * target.unsqueeze(-1)).sum(1))  # (B, k)
    return (basis @ coef.unsqueeze(-1)).squeeze(-1)


def align_depth(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, mode: str = "paper") -> torch.Tensor:
    """Align each predicted depth map to its ground truth (see module doc for the modes).

    Args:
        pred, gt: (B, 1, H, W) or (B, H, W). mask: same shape, bool; statistics use mask pixels only.
        mode: ``"paper"``, ``"ls"`` or ``"affine"``.

    Returns:
        Aligned prediction, shape of ``pred`` (differentiable w.r.t. ``pred``).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    shape = pred.shape
    p, g, m = _flatten(pred, gt, mask)
    w = m.to(p.dtype)
    if mode == "paper":
        a = (p * g * w).sum(-1) / (p * p * w).sum(-1).clamp_min(1e-12)
        out = a.unsqueeze(-1) * (p - masked_median(p, m).unsqueeze(-1)) + masked_median(g, m).unsqueeze(-1)
    elif mode == "ls":
        # Centre the prediction first so the 2x2 system is well conditioned.
        basis = torch.stack(
            [p - (p * w).sum(-1, keepdim=True) / w.sum(-1, keepdim=True).clamp_min(1), torch.ones_like(p)], -1
        )
        out = _least_squares(basis, g, w)
    else:
        H, W = shape[-2:]
        v, u = torch.meshgrid(
            torch.arange(H, dtype=p.dtype, device=p.device) + 0.5,
            torch.arange(W, dtype=p.dtype, device=p.device) + 0.5,
            indexing="ij",
        )
        u = (u.reshape(1, -1) / W).expand_as(p)
        v = (v.reshape(1, -1) / H).expand_as(p)
        pc = p - (p * w).sum(-1, keepdim=True) / w.sum(-1, keepdim=True).clamp_min(1)
        out = _least_squares(torch.stack([pc, u, v, torch.ones_like(p)], -1), g, w)
    return out.reshape(shape)


def depth_metrics(
    pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, mode: str = "paper", per_image: bool = False
) -> dict:
    """Depth errors after alignment, over the mask pixels of each image, averaged over images.

    Metrics (Eigen et al., as the paper): ``l1`` mean |d*-g|, ``rmse`` sqrt(mean (d*-g)^2),
    ``abs_rel`` mean |d*-g|/g, ``sq_rel`` mean (d*-g)^2/g, ``delta1`` fraction with
    max(d*/g, g/d*) < 1.25. Ground truth must be positive on the mask (pointkit depth is camera z).

    Args:
        pred, gt: (B, 1, H, W) or (B, H, W). mask: bool, same shape. mode: alignment (:func:`align_depth`).
        per_image: return (B,) tensors instead of floats averaged over images.

    Returns:
        dict with keys ``l1``, ``rmse``, ``abs_rel``, ``sq_rel``, ``delta1``.
    """
    with torch.no_grad():
        pred64, gt64 = pred.detach().double(), gt.detach().double()
        aligned = align_depth(pred64, gt64, mask, mode)
        a, g, m = _flatten(aligned, gt64, mask)
        w = m.double()
        n = w.sum(-1).clamp_min(1)
        diff = a - g
        gs = torch.where(m, g, torch.ones_like(g))
        ratio = torch.maximum(a / gs, gs / a.where(a != 0, torch.full_like(a, 1e-12)))
        out = {
            "l1": (diff.abs() * w).sum(-1) / n,
            "rmse": ((diff**2 * w).sum(-1) / n).sqrt(),
            "abs_rel": (diff.abs() / gs * w).sum(-1) / n,
            "sq_rel": (diff**2 / gs * w).sum(-1) / n,
            "delta1": (((ratio < 1.25) & (a > 0)).double() * w).sum(-1) / n,
        }
    if per_image:
        return out
    return {k: float(v.mean()) for k, v in out.items()}
