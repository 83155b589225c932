r"""Affine cameras ``x = P X`` with ``P`` (2, 4) and homogeneous points ``X = [u, v, d, 1]``.

Three layers, each batched over pairs ``B`` with ``N`` points per pair:

* :func:`project_affine` — ``P X``.
* :func:`solve_affine` — the differentiable weighted least-squares camera (the paper's
  pseudo-inverse step, eq. 5-6), via 4x4 normal equations on per-pair normalised coordinates.
* :func:`fit_affine_camera` — seeded RANSAC over all pairs and hypotheses at once, then
  :func:`solve_affine` on the inliers.

Why hand-written and not ``torch.linalg.pinv``/``lstsq`` or kornia: their backward builds
``B x N x N`` intermediates (out of memory at N = 10 000) and, in float32, drops the small singular
value of ``X`` when the predicted depth is nearly flat, which silently kills the depth gradient at
initialisation (docs/performance-notes). Normalising ``u, v, d`` per pair to zero mean and unit
variance makes the 4x4 system well conditioned whatever the depth range, and the normal equations
cost O(N) memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pointkit.defaults import RANSAC_HYPOTHESES

# Ridge on the normalised normal matrix, relative to the total weight, at the rounding level of each
# dtype: keeps the 4x4 solve finite for rank-deficient input (planar depth, < 4 distinct points)
# without biasing well-posed fits beyond rounding.
_RIDGE = {torch.float32: 1e-7, torch.float64: 1e-14}
# A pair is degenerate when its (u, v) spread is below this fraction of its largest spread
# (collinear or repeated points) or it has fewer than 4 valid points.
_DEGENERATE_RATIO = 1e-6


def _check_shapes(X: torch.Tensor, x_t: torch.Tensor | None = None, weights: torch.Tensor | None = None) -> None:
    if X.ndim != 3 or X.shape[-1] != 4:
        raise ValueError(f"X must be (B, N, 4) homogeneous points, got {tuple(X.shape)}")
    if x_t is not None and x_t.shape != X.shape[:2] + (2,):
        raise ValueError(f"x_t must be (B, N, 2) = {tuple(X.shape[:2]) + (2,)}, got {tuple(x_t.shape)}")
    if weights is not None and weights.shape != X.shape[:2]:
        raise ValueError(f"weights/valid must be (B, N) = {tuple(X.shape[:2])}, got {tuple(weights.shape)}")


def project_affine(P: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    r"""Project homogeneous points with affine cameras.

    Args:
        P: (B, 2, 4) cameras.
        X: (B, N, 4) points ``[u, v, d, 1]``.

    Returns:
        (B, N, 2) image points ``P X``.

    Example:
        >>> P = torch.tensor([[[1., 0, 0, 2], [0, 1, 0, 3]]])
        >>> project_affine(P, torch.tensor([[[1., 1, 5, 1]]]))
        tensor([[[3., 4.]]])
    """
    if P.ndim != 3 or P.shape[-2:] != (2, 4):
        raise ValueError(f"P must be (B, 2, 4), got {tuple(P.shape)}")
    _check_shapes(X)
    return X @ P.transpose(-1, -2)


def _normalisation(X: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-pair 4x4 similarity ``T`` such that ``T X`` has weighted zero mean, unit variance in u, v, d.

    X: (B, N, 4), w: (B, N) non-negative. Returns T: (B, 4, 4).
    """
    wsum = w.sum(-1, keepdim=True).clamp_min(1e-12)  # (B, 1)
    xyz = X[..., :3]
    mean = (w.unsqueeze(-1) * xyz).sum(1) / wsum  # (B, 3)
    var = (w.unsqueeze(-1) * (xyz - mean.unsqueeze(1)) ** 2).sum(1) / wsum  # (B, 3)
    # An exactly constant coordinate keeps scale 1 instead of dividing by zero.
    inv_std = torch.where(var > 0, var.clamp_min(1e-30).rsqrt(), torch.ones_like(var))
    T = torch.zeros(X.shape[0], 4, 4, dtype=X.dtype, device=X.device)
    T[:, [0, 1, 2], [0, 1, 2]] = inv_std
    T[:, :3, 3] = -mean * inv_std
    T[:, 3, 3] = 1
    return T


def solve_affine(X: torch.Tensor, x_t: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    r"""Weighted least-squares affine camera: ``argmin_P sum_i w_i |x_t_i - P X_i|^2``.

    Differentiable with respect to ``X`` (and ``x_t``, ``weights``); O(B·N) memory. Computed in
    float32 or float64 (half inputs are promoted, autocast is disabled inside) on per-pair
    normalised coordinates, with a tiny ridge so rank-deficient pairs stay finite.

    Args:
        X: (B, N, 4) points ``[u, v, d, 1]``.
        x_t: (B, N, 2) target image points.
        weights: (B, N) non-negative weights or a bool mask; ``None`` weighs all points 1.

    Returns:
        (B, 2, 4) cameras ``P`` in the dtype of the computation.

    Example:
        >>> X = torch.cat([torch.rand(1, 10, 3), torch.ones(1, 10, 1)], -1)
        >>> P = torch.rand(1, 2, 4)
        >>> torch.allclose(solve_affine(X, project_affine(P, X)), P, atol=1e-4)
        True
    """
    _check_shapes(X, x_t, weights)
    dtype = torch.float64 if X.dtype == torch.float64 else torch.float32
    with torch.autocast(device_type=X.device.type, enabled=False):
        X, x_t = X.to(dtype), x_t.to(dtype)
        w = torch.ones(X.shape[:2], dtype=dtype, device=X.device) if weights is None else weights.to(dtype)
        T = _normalisation(X, w)
        Xn = X @ T.transpose(-1, -2)  # (B, N, 4)
        Xw = Xn * w.unsqueeze(-1)
        A = Xn.transpose(-1, -2) @ Xw  # (B, 4, 4)
        rhs = Xw.transpose(-1, -2) @ x_t  # (B, 4, 2)
        eye = torch.eye(4, dtype=dtype, device=X.device)
        A = A + (_RIDGE[dtype] * w.sum(-1).clamp_min(1.0))[:, None, None] * eye
        Pn = torch.linalg.solve(A, rhs).transpose(-1, -2)  # (B, 2, 4), normalised frame
        return Pn @ T  # back to the input frame


def affine_degenerate(X: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Pairs whose camera is undetermined: fewer than 4 valid points, or collinear/repeated (u, v).

    Args:
        X: (B, N, 4) points. weights: (B, N) weights or bool mask (``> 0`` counts as valid).

    Returns:
        (B,) bool, True where the pair is degenerate.
    """
    _check_shapes(X, None, weights)
    with torch.no_grad():
        valid = torch.ones(X.shape[:2], dtype=torch.bool, device=X.device) if weights is None else weights > 0
        w = valid.to(torch.float64)
        uv = X[..., :2].to(torch.float64)
        n = w.sum(-1)
        mean = (w.unsqueeze(-1) * uv).sum(1) / n.clamp_min(1).unsqueeze(-1)
        d = (uv - mean.unsqueeze(1)) * w.unsqueeze(-1)
        cov = d.transpose(-1, -2) @ d / n.clamp_min(1)[:, None, None]  # (B, 2, 2)
        eig = torch.linalg.eigvalsh(cov)  # ascending
        spread = eig[:, 1]
        flat = (eig[:, 0] <= _DEGENERATE_RATIO * spread) | (spread <= 1e-12)
        return (n < 4) | flat


@dataclass
class AffineFit:
    """Result of :func:`fit_affine_camera`.

    Attributes:
        P: (B, 2, 4) cameras refitted on the inliers (differentiable w.r.t. ``X``).
        inliers: (B, N) bool, valid points within ``threshold`` pixels of the best hypothesis.
        degenerate: (B,) bool, pairs whose camera is undetermined (``P`` is finite but meaningless;
            the correspondence loss gives them zero weight).
    """

    P: torch.Tensor
    inliers: torch.Tensor
    degenerate: torch.Tensor

    @property
    def inlier_ratio(self) -> torch.Tensor:
        """(B,) fraction of points that are inliers (over all N; divide by valid counts if padded)."""
        return self.inliers.float().mean(-1)


def sample_valid(valid: torch.Tensor, k: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``k`` indices per pair drawn uniformly (with replacement) from that pair's valid points.

    Draws ranks among the valid points and maps them to indices through the cumulative count of
    valid points (a binary search), so it never sorts or copies the N points.

    Args:
        valid: (B, N) bool. k: samples per pair. generator: torch.Generator on ``valid.device``.

    Returns:
        (B, k) int64 indices (index 0 for pairs with no valid point).
    """
    B, N = valid.shape
    counts = valid.sum(-1, keepdim=True)  # (B, 1)
    r = torch.rand(B, k, generator=generator, device=valid.device, dtype=torch.float64)
    rank = (r * counts).long().minimum((counts - 1).clamp_min(0))
    if torch.equal(valid, torch.arange(N, device=valid.device) < counts):
        return rank  # valid points first, padding last (as the loaders batch): the rank is the index
    cum = valid.long().cumsum(-1)  # (B, N)
    return torch.searchsorted(cum, rank + 1).clamp_max(N - 1)  # first index with cum == rank + 1


def ransac_hypotheses(valid: torch.Tensor, hypotheses: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, H, 4) indices of 4-point minimal samples (see :func:`sample_valid`).

    A sample may repeat an index; such a sample is singular and is discarded when scoring.
    """
    return sample_valid(valid, 4 * hypotheses, generator).view(valid.shape[0], hypotheses, 4)


def _msac_cost(
    Xn: torch.Tensor, x: torch.Tensor, w: torch.Tensor, Pt: torch.Tensor, thr2: float, max_elements: int
) -> torch.Tensor:
    """MSAC cost of each hypothesis: sum_i w_i min(|x_i - P X_i|^2, thr^2).

    Xn: (B, M, 4), x: (B, M, 2), w: (B, M) 0/1, Pt: (B, H, 4, 2) transposed cameras -> (B, H).
    The residuals come out of one batched matmul per chunk: ``[X, u, v] @ [[P_u^T, P_v^T], [-1, 0],
    [0, -1]]`` gives the u- and v-residuals of every point under every hypothesis as two contiguous
    (B, M, h) blocks, so no (B, M, h, 2) tensor is ever reduced over its short last axis.
    """
    B, M, _ = Xn.shape
    H = Pt.shape[1]
    Xa = torch.cat([Xn, x], -1)  # (B, M, 6)
    chunk = max(1, min(H, max_elements // max(1, 2 * B * M)))
    costs = []
    for start in range(0, H, chunk):  # a few memory-bounding chunks, not a per-hypothesis loop
        P = Pt[:, start : start + chunk]  # (B, h, 4, 2)
        h = P.shape[1]
        Q = Xa.new_zeros(B, 6, 2, h)
        Q[:, :4] = P.permute(0, 2, 3, 1)  # rows 0-3: P^T for u (col 0) and v (col 1)
        Q[:, 4, 0] = -1
        Q[:, 5, 1] = -1
        R = torch.bmm(Xa, Q.view(B, 6, 2 * h)).square_()  # (B, M, 2h): r_u^2 | r_v^2
        r2 = (R[..., :h] + R[..., h:]).clamp_max_(thr2)  # (B, M, h)
        costs.append(torch.bmm(w.unsqueeze(1), r2).squeeze(1))
    return torch.cat(costs, 1)


def fit_affine_camera(
    X: torch.Tensor,
    x_t: torch.Tensor,
    valid: torch.Tensor | None = None,
    threshold: float = 8.0,
    hypotheses: int = RANSAC_HYPOTHESES,
    generator: torch.Generator | None = None,
    score_points: int = 256,
    rescore_top: int = 8,
    max_elements: int = 1 << 23,
) -> AffineFit:
    r"""Robust affine camera: batched RANSAC, then the differentiable least-squares refit on inliers.

    All pairs and hypotheses are processed together (no Python loop over either). Each hypothesis
    is the exact camera through 4 sampled points, scored by the MSAC cost
    ``sum_i min(|x_t_i - P X_i|^2, threshold^2)`` (lower is better, ties go to the first).
    When pairs have more than ``score_points`` points, hypotheses are first scored on a random
    subset of that many valid points and only the best ``rescore_top`` are scored on all points
    (preemptive scoring, as in Nistér's preemptive RANSAC): O(B·(H·score_points + rescore_top·N))
    work instead of O(B·H·N). The best camera's points within ``threshold`` are the inliers.

    Degenerate pairs (fewer than 4 valid points, collinear or repeated points, or a degenerate
    inlier set) never produce NaN/inf: they are flagged in ``degenerate``.

    Args:
        X: (B, N, 4) points ``[u, v, d, 1]``.
        x_t: (B, N, 2) target points (pixels).
        valid: (B, N) bool, False for padding; ``None`` means all valid.
        threshold: inlier distance in pixels (the paper's ``T``).
        hypotheses: number of 4-point hypotheses per pair.
        generator: torch.Generator for reproducible sampling (on ``X.device``).
        score_points: size of the random subset for the first scoring round.
        rescore_top: hypotheses kept for scoring on all points.
        max_elements: memory bound (floats) of one scoring chunk.

    Returns:
        :class:`AffineFit`.
    """
    _check_shapes(X, x_t, valid)
    B, N, _ = X.shape
    valid = torch.ones(B, N, dtype=torch.bool, device=X.device) if valid is None else valid.bool()
    with torch.no_grad(), torch.autocast(device_type=X.device.type, enabled=False):
        dtype = torch.float64 if X.dtype == torch.float64 else torch.float32
        Xd, xd = X.detach().to(dtype), x_t.detach().to(dtype)
        w = valid.to(dtype)
        T = _normalisation(Xd, w)
        Xn = Xd @ T.transpose(-1, -2)  # (B, N, 4)
        rows = torch.arange(B, device=X.device)
        idx = ransac_hypotheses(valid, hypotheses, generator)  # (B, H, 4)
        Xs, xs = Xn[rows[:, None, None], idx], xd[rows[:, None, None], idx]  # (B, H, 4, 4), (B, H, 4, 2)
        # Exact 4-point cameras P^T = Xs^{-1} xs (normalised frame); singular samples never win.
        Pt, info = torch.linalg.solve_ex(Xs, xs)  # (B, H, 4, 2)
        ok = (info == 0) & torch.isfinite(Pt).all(-1).all(-1)
        Pt = torch.where(ok[..., None, None], Pt, torch.zeros_like(Pt))
        thr2 = float(threshold) ** 2
        if N > score_points and hypotheses > rescore_top:
            sub = sample_valid(valid, score_points, generator)  # (B, M)
            cost = _msac_cost(
                Xn[rows[:, None], sub], xd[rows[:, None], sub], w[rows[:, None], sub], Pt, thr2, max_elements
            )
            top = cost.masked_fill(~ok, torch.inf).topk(rescore_top, dim=-1, largest=False).indices.sort(-1).values
            Pt, ok = Pt[rows[:, None], top], ok[rows[:, None], top]  # (B, k, 4, 2)
        cost = _msac_cost(Xn, xd, w, Pt, thr2, max_elements).masked_fill(~ok, torch.inf)
        best = cost.argmin(-1)  # first minimum
        Pbest = Pt[rows, best]  # (B, 4, 2)
        r2 = ((Xn @ Pbest - xd) ** 2).sum(-1)
        inliers = valid & (r2 < thr2)
        degenerate = affine_degenerate(Xd, valid) | affine_degenerate(Xd, inliers) | ~ok.any(-1)
    P = solve_affine(X, x_t, inliers)
    return AffineFit(P=P, inliers=inliers, degenerate=degenerate)
