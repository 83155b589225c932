"""The core functions (camera solve and projection, robust cost, sampled depth, metrics) on every
(device, dtype) of the ``device_dtype`` fixture, against independent float64 NumPy computations."""

from __future__ import annotations

import numpy as np
import torch

from conftest import TOLERANCE
from pointkit.camera.affine import project_affine, solve_affine
from pointkit.losses import robust_cost, sample_depth
from pointkit.metrics import align_depth


def _close(got: torch.Tensor, want: np.ndarray, dtype: torch.dtype, scale: float = 1.0) -> None:
    got = got.detach().double().cpu().numpy()
    assert np.allclose(got, want, rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * scale), np.abs(got - want).max()


def test_affine_camera_solve_and_projection(device_dtype):
    device, dtype = device_dtype
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.uniform(0, 1, (2, 40, 2)), rng.uniform(-0.5, 0.5, (2, 40, 1)), np.ones((2, 40, 1))], -1)
    P = np.concatenate([np.eye(2) + 0.2 * rng.normal(size=(2, 2, 2)), rng.normal(size=(2, 2, 2))], -1)
    x = np.einsum("bij,bnj->bni", P, X)  # independent projection
    t = lambda a: torch.from_numpy(a).to(device, dtype)  # noqa: E731
    _close(project_affine(t(P), t(X)), x, dtype, scale=10)
    w = rng.uniform(0.5, 1.5, (2, 40))
    noisy = x + 0.01 * rng.normal(size=x.shape)
    want = np.stack(
        [
            np.linalg.lstsq(X[b] * np.sqrt(w[b])[:, None], noisy[b] * np.sqrt(w[b])[:, None], rcond=None)[0].T
            for b in range(2)
        ]
    )  # weighted least squares by NumPy
    P_got = solve_affine(t(X), t(noisy), t(w))
    assert P_got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)  # half is promoted
    # bf16 inputs hold 3 significant digits, so the solve from them gets a wider absolute tolerance
    _close(P_got, want, dtype, scale=10 if dtype == torch.bfloat16 else 1)


def test_robust_cost_matches_the_papers_formula(device_dtype):
    device, dtype = device_dtype
    r = np.linspace(0, 12, 49)
    tau = 5.0
    want = np.where(r**2 <= tau**2, 0.5 * r**2 * (1 - r**2 / (2 * tau**2)), tau**2 / 4)
    _close(robust_cost(torch.from_numpy(r).to(device, dtype), tau), want, dtype, scale=10)


def test_sampled_depth_is_bilinear_at_pixel_centres(device_dtype):
    device, dtype = device_dtype
    rng = np.random.default_rng(1)
    depth = rng.uniform(1, 2, (1, 1, 6, 8))
    uv = rng.uniform(0.5, 7.5, (1, 30, 2)) * [1, 5.5 / 7.5]
    i = np.clip(uv[0, :, 1] - 0.5, 0, 5)  # row / column in pixel-centre units,
    j = np.clip(uv[0, :, 0] - 0.5, 0, 7)  # clamped at the border
    i0, j0 = np.floor(i).astype(int), np.floor(j).astype(int)
    fi, fj = i - i0, j - j0
    d = depth[0, 0]
    i1, j1 = np.minimum(i0 + 1, 5), np.minimum(j0 + 1, 7)
    want = d[i0, j0] * (1 - fi) * (1 - fj) + d[i0, j1] * (1 - fi) * fj + d[i1, j0] * fi * (1 - fj) + d[i1, j1] * fi * fj
    got = sample_depth(torch.from_numpy(depth).to(device, dtype), torch.from_numpy(uv).to(device, dtype))
    _close(got[0], want, dtype, scale=2)


def test_least_squares_depth_alignment(device_dtype):
    device, dtype = device_dtype
    rng = np.random.default_rng(2)
    gt = rng.uniform(1, 3, (1, 16, 16))
    pred = rng.uniform(-1, 1, (1, 16, 16))
    mask = rng.uniform(size=(1, 16, 16)) > 0.3
    A = np.stack([pred[mask], np.ones(mask.sum())], 1)
    s, b = np.linalg.lstsq(A, gt[mask], rcond=None)[0]  # scale and shift by NumPy
    t = lambda a: torch.from_numpy(a).to(device, dtype)  # noqa: E731
    got = align_depth(t(pred), t(gt), torch.from_numpy(mask).to(device), mode="ls")
    _close(got[torch.from_numpy(mask).to(device)], s * pred[mask] + b, dtype, scale=3)
