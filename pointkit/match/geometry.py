"""Affine two-view geometry: the affine fundamental matrix, 2D affine maps, and Torr's GRIC.

A correspondence ``x <-> x'`` (pixels, u right, v down) is the 4-vector ``X = (u', v', u, v)``.

* The affine fundamental matrix ``F_A = [[0, 0, a], [0, 0, b], [c, d, e]]`` says
  ``x'^T F_A x = a u' + b v' + c u + d v + e = 0``: the points ``X`` lie on a hyperplane of R^4
  with normal ``n = (a, b, c, d)``. The Gold Standard estimate (Hartley & Zisserman, algorithm
  14.1) is the total-least-squares hyperplane: ``n`` is the right singular vector of the centred
  ``(N, 4)`` matrix with the smallest singular value, ``e = -n . mean(X)``. With ``|n| = 1`` the
  residual ``|n . X + e|`` is exactly the geometric (reprojection) error of the correspondence:
  the distance in R^4 to the nearest pair of points that satisfy ``F_A``.
* A 2D affine map ``x' = A x + t`` makes ``X`` lie on a 2D plane of R^4; its Gold Standard fit
  (Hartley & Zisserman, algorithm 4.7) is that plane by total least squares (its normals are the
  two smallest right singular vectors of the centred points).
  The geometric error of a correspondence is its distance to the plane.

The RANSAC here is hand-written in numpy rather than taken from OpenCV because OpenCV's
``estimateAffine*`` RANSAC cannot be seeded and OpenCV has no affine fundamental matrix; the
minimal solves are a batched ``(K, 4, 4)`` SVD, so the whole loop is a few array operations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def joint_points(uv_src: np.ndarray, uv_tgt: np.ndarray) -> np.ndarray:
    """Stack correspondences into ``X = (u', v', u, v)``.

    Args:
        uv_src: (N, 2) points ``x`` in the source image.
        uv_tgt: (N, 2) points ``x'`` in the target image.

    Returns:
        (N, 4) float64.
    """
    uv_src, uv_tgt = np.asarray(uv_src, np.float64), np.asarray(uv_tgt, np.float64)
    if uv_src.ndim != 2 or uv_src.shape[1] != 2 or uv_tgt.shape != uv_src.shape:
        raise ValueError(f"expected two (N, 2) arrays, got {uv_src.shape} and {uv_tgt.shape}")
    return np.concatenate([uv_tgt, uv_src], axis=1)


def fit_affine_f(X: np.ndarray) -> np.ndarray:
    """Gold Standard affine fundamental matrix (H&Z alg. 14.1) of (N >= 4, 4) joint points.

    Returns:
        (5,) ``(a, b, c, d, e)`` with ``|(a, b, c, d)| = 1``; ``F_A = [[0,0,a],[0,0,b],[c,d,e]]``.
    """
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    n = vt[-1]
    return np.concatenate([n, [-n @ mean]])


def affine_f_errors(f: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Geometric error (pixels) of (N, 4) joint points under ``f`` (K, 5) or (5,): (K, N) or (N,)."""
    f = np.asarray(f, np.float64)
    return np.abs(f[..., :4] @ X.T + f[..., 4:5])


def fit_affine_map(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gold Standard 2D affine map ``x' = A x + t`` (H&Z alg. 4.7) of (N >= 3, 4) joint points.

    Returns:
        ``mean`` (4,) and ``normals`` (4, 2): the plane ``{X : normals^T (X - mean) = 0}`` of R^4
        holding the correspondences (orthonormal columns: the two smallest right singular
        vectors). With ``normals = [[N1], [N2]]`` (2 x 2 blocks), ``A = -inv(N1^T) N2^T``.
    """
    mean = X.mean(axis=0)
    _, _, vt = np.linalg.svd(X - mean, full_matrices=False)
    return mean, vt[2:].T


def affine_map_errors(mean: np.ndarray, normals: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Geometric error (pixels): distance of (N, 4) joint points to the plane of ``fit_affine_map``.

    ``mean`` (K, 4) / ``normals`` (K, 4, 2) give (K, N); unbatched (4,) / (4, 2) give (N,).
    """
    batched = normals.ndim == 3
    mean, normals = (mean, normals) if batched else (mean[None], normals[None])
    k = len(normals)
    # one (N, 4) x (4, 2K) product instead of K small ones
    r = (X @ normals.transpose(1, 0, 2).reshape(4, 2 * k)).reshape(len(X), k, 2)
    r -= np.einsum("kj,kjc->kc", mean, normals)
    err = np.sqrt((r * r).sum(-1)).T
    return err if batched else err[0]


def _batched_fits(X: np.ndarray, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimal fits for (K, S) sample indices: per sample the mean (K, 4) and right singular vectors (K, 4, 4)."""
    P = X[samples]  # (K, S, 4)
    mean = P.mean(axis=1)
    _, _, vt = np.linalg.svd(P - mean[:, None, :], full_matrices=True)
    return mean, vt


def _distinct_samples(rng: np.random.Generator, n: int, k: int, size: int) -> np.ndarray:
    """(k, size) indices in [0, n), distinct within each row: rows with a repeat are redrawn."""
    samples = rng.integers(0, n, (k, size))
    while True:
        s = np.sort(samples, axis=1)
        bad = (s[:, 1:] == s[:, :-1]).any(axis=1)
        if not bad.any():
            return samples
        samples[bad] = rng.integers(0, n, (int(bad.sum()), size))


@dataclass
class RansacResult:
    """A robust fit. ``model`` is (5,) for F_A or ``(mean (4,), normals (4, 2))`` for an affine map."""

    model: object
    inliers: np.ndarray  # (N,) bool
    errors: np.ndarray  # (N,) geometric error under the refitted model
    hypotheses: int  # minimal hypotheses scored


def _msac_cost(errors: np.ndarray, threshold: float) -> float:
    """Torr and Zisserman's MSAC cost: squared errors truncated at the inlier threshold."""
    return float(np.minimum(errors**2, threshold**2).sum())


def _ransac(
    X: np.ndarray,
    kind: str,
    threshold: float,
    rng: np.random.Generator,
    confidence: float,
    max_hypotheses: int,
    batch: int = 128,
) -> RansacResult | None:
    sample_size = 4 if kind == "F" else 3
    n = len(X)
    if n < sample_size + 1:
        return None
    best_count, best_model, done, needed = -1, None, 0, max_hypotheses
    while done < min(needed, max_hypotheses):
        k = min(batch, max_hypotheses - done)
        samples = _distinct_samples(rng, n, k, sample_size)
        mean, vt = _batched_fits(X, samples)
        if kind == "F":
            normal = vt[:, -1]  # (K, 4)
            f = np.concatenate([normal, -(normal * mean).sum(-1, keepdims=True)], axis=1)
            err = affine_f_errors(f, X)
        else:
            err = affine_map_errors(mean, np.transpose(vt[:, 2:], (0, 2, 1)), X)
        counts = (err < threshold).sum(axis=1)
        i = int(np.argmax(counts))
        if counts[i] > best_count:
            best_count = int(counts[i])
            best_model = f[i] if kind == "F" else (mean[i], vt[i, 2:].T)
            w = best_count / n
            # Standard adaptive stopping: hypotheses for `confidence` of one all-inlier sample
            # (log1p: log(1 - w^s) rounds to 0, a division by zero, once w^s < 1e-16).
            needed = (
                max_hypotheses
                if w <= 0
                else (0 if w >= 1 else math.ceil(math.log(1 - confidence) / math.log1p(-(w**sample_size))))
            )
        done += k
    # Gold Standard refit on the inliers, repeated until the inlier set stops changing. A refit is
    # taken when it lowers the MSAC cost sum(min(e^2, t^2)), not only when it keeps every inlier:
    # a refit that loses one marginal point but fits the rest tighter used to be thrown away for
    # the minimal sample's looser model (a pure affine warp then read as parallax under GRIC).
    err = affine_f_errors(best_model, X) if kind == "F" else affine_map_errors(*best_model, X)
    inliers = err < threshold
    for _ in range(10):
        if inliers.sum() < sample_size + 1:
            break
        model = fit_affine_f(X[inliers]) if kind == "F" else fit_affine_map(X[inliers])
        err_new = affine_f_errors(model, X) if kind == "F" else affine_map_errors(*model, X)
        new = err_new < threshold
        if _msac_cost(err_new, threshold) >= _msac_cost(err, threshold):
            break
        best_model, err, stable, inliers = model, err_new, np.array_equal(new, inliers), new
        if stable:
            break
    return RansacResult(model=best_model, inliers=inliers, errors=err, hypotheses=done)


def ransac_affine_f(
    uv_src: np.ndarray,
    uv_tgt: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    confidence: float = 0.999,
    max_hypotheses: int = 2048,
) -> RansacResult | None:
    """Affine fundamental matrix by seeded RANSAC (4-point samples) + Gold Standard refit.

    Args:
        uv_src, uv_tgt: (N, 2) putative correspondences, pixels.
        threshold: inlier bound on the geometric error, pixels.
        rng: the only source of randomness (same generator state, same result).

    Returns:
        ``RansacResult`` with ``model`` (5,) ``(a, b, c, d, e)``, or None when N < 5.
    """
    return _ransac(joint_points(uv_src, uv_tgt), "F", threshold, rng, confidence, max_hypotheses)


def ransac_affine_map(
    uv_src: np.ndarray,
    uv_tgt: np.ndarray,
    threshold: float,
    rng: np.random.Generator,
    confidence: float = 0.999,
    max_hypotheses: int = 2048,
) -> RansacResult | None:
    """2D affine map by seeded RANSAC (3-point samples) + Gold Standard refit; None when N < 4."""
    return _ransac(joint_points(uv_src, uv_tgt), "H", threshold, rng, confidence, max_hypotheses)


def gric(
    errors: np.ndarray, sigma: float, manifold_dim: int, num_params: int, data_dim: int = 4, lambda3: float = 2.0
) -> float:
    """Torr's Geometric Robust Information Criterion (lower is better).

    ``GRIC = sum_i min(e_i^2 / sigma^2, lambda3 (r - d)) + ln(r) d N + ln(r N) k`` with data
    dimension ``r`` (4 for two-view correspondences), manifold dimension ``d`` (3 for F_A, 2 for an
    affine map) and ``k`` model parameters (4 for F_A, 6 for an affine map).

    Args:
        errors: (N,) geometric errors, pixels.
        sigma: noise standard deviation, pixels.
    """
    n = len(errors)
    rho = np.minimum((np.asarray(errors) / sigma) ** 2, lambda3 * (data_dim - manifold_dim)).sum()
    return float(rho + math.log(data_dim) * manifold_dim * n + math.log(data_dim * n) * num_params)
