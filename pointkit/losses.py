r"""LiftNet's losses (paper §3): the robust cost R, the correspondence loss, the supervised baseline."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pointkit.defaults import RANSAC_HYPOTHESES, TAU_PX
from pointkit.camera import affine_degenerate, fit_affine_camera, project_affine, solve_affine
from pointkit.metrics import align_depth, masked_median


def _robust_from_squared(x2: torch.Tensor, tau: float | None) -> torch.Tensor:
    """R evaluated on squared residuals (no sqrt, so the gradient at a zero residual is 0, not NaN)."""
    if tau is None:
        return 0.5 * x2
    tau2 = float(tau) ** 2
    inside = 0.5 * x2 * (1 - x2 / (2 * tau2))
    return torch.where(x2 <= tau2, inside, torch.full_like(x2, tau2 / 4))


def robust_cost(r: torch.Tensor, tau: float | None) -> torch.Tensor:
    r"""The paper's robust cost (§3.2) on residual norms ``r`` (any shape):

    .. math:: R(x) = \tfrac12 x^2 (1 - \tfrac{x^2}{2\tau^2}) \text{ if } x^2 \le \tau^2, \text{ else } \tau^2/4

    Smooth (C1) at ``|x| = tau``; residuals beyond ``tau`` get a constant cost and no gradient.
    ``tau=None`` gives the non-robust limit ``x^2 / 2``.

    Example:
        >>> robust_cost(torch.tensor([0., 1., 10.]), tau=2.0)
        tensor([0.0000, 0.4375, 1.0000])
    """
    return _robust_from_squared(r * r, tau)


def sample_depth(depth: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear depth at float pixel coordinates (pixel centres at i + 0.5, border clamped).

    Args:
        depth: (B, 1, H, W). uv: (B, N, 2) pixel coordinates (u right, v down).

    Returns:
        (B, N) depth values.
    """
    if depth.ndim != 4 or depth.shape[1] != 1:
        raise ValueError(f"depth must be (B, 1, H, W), got {tuple(depth.shape)}")
    H, W = depth.shape[-2:]
    scale = torch.tensor([2.0 / W, 2.0 / H], dtype=uv.dtype, device=uv.device)
    grid = (uv * scale - 1).unsqueeze(1).to(depth.dtype)  # (B, 1, N, 2); align_corners=False frame
    return F.grid_sample(depth, grid, mode="bilinear", padding_mode="border", align_corners=False)[:, 0, 0]


@dataclass
class CorrespondenceStats:
    """Per-pair statistics of :func:`correspondence_loss` (all (B,) tensors, detached).

    inlier_ratio: inliers / valid points. mean_error: mean reprojection error over valid points, px.
    degenerate: pairs excluded from the loss (camera undetermined).
    """

    inlier_ratio: torch.Tensor
    mean_error: torch.Tensor
    degenerate: torch.Tensor


def correspondence_loss(
    depth: torch.Tensor,
    src_uv: torch.Tensor,
    tgt_uv: torch.Tensor,
    valid: torch.Tensor | None = None,
    tau: float | None = TAU_PX,
    ransac: bool = True,
    threshold: float | None = None,
    hypotheses: int = RANSAC_HYPOTHESES,
    generator: torch.Generator | None = None,
    return_stats: bool = False,
):
    r"""LiftNet's correspondence loss (paper eq. 1): mean robust reprojection error through the best camera.

    For each pair: ``X_i = [u_i, v_i, d(u_i, v_i), 1]`` at the source points, ``P`` = the affine
    camera best mapping ``X`` to the target points (RANSAC + least-squares refit on the inliers,
    or plain least squares with ``ransac=False``), and the loss is ``mean_i R(|P X_i - x^t_i|)``
    over all valid points, averaged over the non-degenerate pairs. Gradients flow through the
    camera solve into ``depth``. Degenerate pairs (fewer than 4 valid points, collinear points)
    contribute zero.

    The loss is invariant to ``d -> a d + b u + c v + e`` (any ``a != 0``): depth is learned up to
    that affine ambiguity.

    Args:
        depth: (B, 1, H, W) predicted depth of the source views.
        src_uv, tgt_uv: (B, N, 2) float pixel coordinates in the source / target view.
        valid: (B, N) bool mask of real (non-padding) correspondences.
        tau: robust threshold in pixels (``None``: plain ``x^2/2``).
        ransac: robust camera by RANSAC (``threshold`` px, default ``tau`` or 8 px) before the refit.
        hypotheses, generator: RANSAC settings (see :func:`pointkit.camera.fit_affine_camera`).
        return_stats: also return :class:`CorrespondenceStats`.

    Returns:
        Scalar loss, or ``(loss, stats)``.
    """
    if src_uv.shape != tgt_uv.shape or src_uv.ndim != 3 or src_uv.shape[-1] != 2:
        raise ValueError(
            f"src_uv and tgt_uv must both be (B, N, 2), got {tuple(src_uv.shape)} and {tuple(tgt_uv.shape)}"
        )
    if depth.shape[0] != src_uv.shape[0]:
        raise ValueError(f"batch of depth ({depth.shape[0]}) and correspondences ({src_uv.shape[0]}) differ")
    B, N, _ = src_uv.shape
    valid = torch.ones(B, N, dtype=torch.bool, device=src_uv.device) if valid is None else valid.bool()
    with torch.autocast(device_type=depth.device.type, enabled=False):
        dtype = torch.float64 if depth.dtype == torch.float64 else torch.float32
        src, tgt = src_uv.to(dtype), tgt_uv.to(dtype)
        d = sample_depth(depth.to(dtype), src)  # (B, N)
        X = torch.cat([src, d.unsqueeze(-1), torch.ones_like(d).unsqueeze(-1)], -1)
        if ransac:
            thr = threshold if threshold is not None else (tau if tau is not None else 8.0)
            fit = fit_affine_camera(X, tgt, valid, threshold=thr, hypotheses=hypotheses, generator=generator)
            P, inliers, degenerate = fit.P, fit.inliers, fit.degenerate
        else:
            P, inliers, degenerate = solve_affine(X, tgt, valid), valid, affine_degenerate(X, valid)
        r2 = ((project_affine(P, X) - tgt) ** 2).sum(-1)  # (B, N)
        w = valid.to(dtype)
        n_valid = w.sum(-1).clamp_min(1)
        per_pair = (_robust_from_squared(r2, tau) * w).sum(-1) / n_valid  # (B,)
        keep = (~degenerate).to(dtype)
        loss = (per_pair * keep).sum() / keep.sum().clamp_min(1)
    if not return_stats:
        return loss
    with torch.no_grad():
        err = r2.detach().clamp_min(0).sqrt()
        stats = CorrespondenceStats(
            inlier_ratio=(inliers & valid).sum(-1) / n_valid,
            mean_error=(err * w).sum(-1) / n_valid,
            degenerate=degenerate,
        )
    return loss, stats


def aligned_depth_loss(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The paper's supervised pix2pix baseline (§5.1): MSE after the scale/shift alignment.

    ``pred`` is aligned to ``gt`` per image with :func:`pointkit.metrics.align_depth` (mode
    ``"paper"``; the alignment is differentiable), then the squared error is averaged over the mask
    pixels of each image and over the images.

    Args:
        pred, gt: (B, 1, H, W) or (B, H, W). mask: same shape, bool.
    """
    aligned = align_depth(pred, gt, mask, mode="paper")
    m = mask.to(aligned.dtype)
    dims = tuple(range(1, pred.ndim))
    per_image = (((aligned - gt) ** 2) * m).sum(dims) / m.sum(dims).clamp_min(1)
    return per_image.mean()


def _normalise_depth(gt: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(B, M) depth, (B, M) bool mask -> per image ``(gt - median) / mean|gt - median|`` on the mask
    (MiDaS' scale-and-shift normalisation; 0 off the mask, so off-mask values never reach a gradient)."""
    centred = gt - masked_median(gt, m).unsqueeze(-1)
    w = m.to(gt.dtype)
    spread = (centred.abs() * w).sum(-1, keepdim=True) / w.sum(-1, keepdim=True).clamp_min(1)
    return torch.where(m, centred / spread.clamp_min(1e-12), torch.zeros_like(gt))


def _gradient_matching(residual: torch.Tensor, mask: torch.Tensor, scales: int) -> torch.Tensor:
    """Multi-scale gradient matching (Ranftl et al., MiDaS §3): per image, the mean over ``scales``
    levels (every 2^k-th pixel) of ``sum(|dR/du| + |dR/dv|) / mask pixels``, finite differences of
    the residual ``R`` taken where both pixels are on the mask. residual, mask: (B, H, W) -> (B,)."""
    per_scale = []
    for k in range(scales):
        s = 2**k
        r, m = residual[:, ::s, ::s], mask[:, ::s, ::s].to(residual.dtype)
        gu = (r[:, :, 1:] - r[:, :, :-1]).abs() * m[:, :, 1:] * m[:, :, :-1]
        gv = (r[:, 1:, :] - r[:, :-1, :]).abs() * m[:, 1:, :] * m[:, :-1, :]
        per_scale.append((gu.sum((1, 2)) + gv.sum((1, 2))) / m.sum((1, 2)).clamp_min(1))
    return torch.stack(per_scale, -1).mean(-1)


def scale_shift_invariant_loss(
    pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor, gradient_weight: float = 0.5, scales: int = 4
) -> torch.Tensor:
    r"""Scale-and-shift-invariant depth loss with multi-scale gradient matching (MiDaS; Ranftl et
    al. 2020), the depth-supervised comparison to the correspondence loss.

    Per image, the ground truth is normalised to zero median and unit mean absolute deviation on
    the mask, the prediction is aligned to it by least-squares scale and shift
    (:func:`pointkit.metrics.align_depth`, mode ``"ls"``, differentiable), and the loss is the
    masked mean squared residual plus ``gradient_weight`` x :func:`_gradient_matching` of that
    residual over ``scales`` levels. It is invariant to ``pred -> a pred + b`` and to the scale and
    offset of ``gt``; unlike the correspondence loss it does see a planar tilt of ``pred``.

    Args:
        pred, gt: (B, 1, H, W) or (B, H, W) depth. mask: same shape, bool (pixels on the object).

    Returns:
        Scalar loss, the mean over images with at least 2 mask pixels (0 when there is none).
    """
    if pred.shape != gt.shape or pred.shape != mask.shape:
        raise ValueError(
            f"pred, gt and mask must have one shape, got {tuple(pred.shape)}, {tuple(gt.shape)}, {tuple(mask.shape)}"
        )
    B, H, W = pred.shape[0], pred.shape[-2], pred.shape[-1]
    m = mask.reshape(B, -1).bool()
    usable = m.sum(-1) >= 2  # an image with fewer mask pixels has no shape to learn: weight 0
    m_fit = m | ~usable.unsqueeze(-1)  # ... and a solvable alignment, so its gradient stays finite
    target = _normalise_depth(gt.reshape(B, -1).to(pred.dtype), m_fit)
    aligned = align_depth(pred.reshape(B, H, W), target.reshape(B, H, W), m_fit.reshape(B, H, W), mode="ls")
    residual = torch.where(m, aligned.reshape(B, -1) - target, torch.zeros_like(target))
    w = m.to(pred.dtype)
    mse = (residual**2).sum(-1) / w.sum(-1).clamp_min(1)
    grad = _gradient_matching(residual.reshape(B, H, W), m.reshape(B, H, W), scales)
    keep = usable.to(pred.dtype)
    return ((mse + gradient_weight * grad) * keep).sum() / keep.sum().clamp_min(1)
