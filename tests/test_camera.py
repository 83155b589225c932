"""pointkit.camera: projection, differentiable solve, batched RANSAC."""

import numpy as np
import pytest
import torch

from pointkit.camera import affine_degenerate, fit_affine_camera, project_affine, solve_affine


def random_scene(B, N, seed, size=256.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    uv = torch.rand(B, N, 2, generator=g, dtype=dtype) * size
    d = torch.rand(B, N, 1, generator=g, dtype=dtype) * 2 - 1
    X = torch.cat([uv, d, torch.ones(B, N, 1, dtype=dtype)], -1)
    # A camera like a real view change: rotation-ish 2x2 in (u, v), depth coefficient of tens of px.
    P = torch.cat(
        [
            torch.eye(2, dtype=dtype).expand(B, 2, 2) + 0.2 * torch.randn(B, 2, 2, generator=g, dtype=dtype),
            60 * torch.randn(B, 2, 1, generator=g, dtype=dtype),
            20 * torch.randn(B, 2, 1, generator=g, dtype=dtype),
        ],
        -1,
    )
    return X, P, g


class TestProject:
    def test_matches_matrix_product(self):
        X, P, _ = random_scene(3, 7, 0)
        expected = np.einsum("bij,bnj->bni", P.numpy(), X.numpy())
        np.testing.assert_allclose(project_affine(P, X).numpy(), expected, rtol=1e-12)

    def test_shape_errors_name_the_shapes(self):
        with pytest.raises(ValueError, match=r"\(B, 2, 4\)"):
            project_affine(torch.zeros(1, 3, 4), torch.zeros(1, 5, 4))
        with pytest.raises(ValueError, match=r"\(B, N, 4\)"):
            project_affine(torch.zeros(1, 2, 4), torch.zeros(1, 5, 3))


class TestSolve:
    @pytest.mark.parametrize("B,N", [(1, 4), (2, 10), (5, 1000)])
    def test_matches_numpy_weighted_lstsq(self, B, N):
        X, P, g = random_scene(B, N, 1)
        x = project_affine(P, X) + torch.randn(B, N, 2, generator=g, dtype=X.dtype)
        w = torch.rand(B, N, generator=g, dtype=X.dtype) + 0.1
        got = solve_affine(X, x, w)
        for b in range(B):
            sw = np.sqrt(w[b].numpy())[:, None]
            ref, *_ = np.linalg.lstsq(X[b].numpy() * sw, x[b].numpy() * sw, rcond=None)
            np.testing.assert_allclose(got[b].numpy(), ref.T, rtol=1e-6, atol=1e-6)

    def test_exact_recovery_and_bool_mask_ignores_garbage(self):
        X, P, _ = random_scene(2, 50, 2)
        x = project_affine(P, X)
        mask = torch.ones(2, 50, dtype=torch.bool)
        mask[:, :10] = False
        x[:, :10] += 1000.0  # masked points must not influence the fit
        torch.testing.assert_close(solve_affine(X, x, mask), P, rtol=1e-7, atol=1e-7)

    def test_gradcheck_float64(self):
        X, P, g = random_scene(2, 12, 3)
        x = project_affine(P, X) + torch.randn(2, 12, 2, generator=g, dtype=X.dtype)
        w = torch.rand(2, 12, generator=g, dtype=X.dtype) + 0.5
        d = X[..., 2].clone().requires_grad_(True)

        def f(d, x, w):
            Xd = torch.cat([X[..., :2], d.unsqueeze(-1), X[..., 3:]], -1)
            return solve_affine(Xd, x, w)

        assert torch.autograd.gradcheck(f, (d, x.requires_grad_(True), w.requires_grad_(True)))

    def test_float32_keeps_depth_gradient_when_depth_is_nearly_flat(self):
        # The pinv trap: nearly constant depth must not lose its gradient in float32.
        X, P, g = random_scene(1, 300, 4)
        X[..., 2] = 0.3 + 1e-3 * X[..., 2]
        x = project_affine(P, X) + 2 * torch.randn(1, 300, 2, generator=g, dtype=X.dtype)
        grads = []
        for dtype in (torch.float64, torch.float32):
            d = X[..., 2].to(dtype).clone().requires_grad_(True)
            Xd = torch.cat([X[..., :2].to(dtype), d.unsqueeze(-1), X[..., 3:].to(dtype)], -1)
            r = project_affine(solve_affine(Xd, x.to(dtype)), Xd) - x.to(dtype)
            (r**2).sum().backward()
            grads.append(d.grad.double())
        assert grads[0].abs().max() > 1.0  # the true gradient is large, not ~1e-6
        rel = (grads[1] - grads[0]).norm() / grads[0].norm()
        assert rel < 1e-2

    def test_half_inputs_are_promoted(self):
        X, P, _ = random_scene(1, 20, 5, dtype=torch.float32)
        out = solve_affine(X.to(torch.bfloat16), project_affine(P, X).to(torch.bfloat16))
        assert out.dtype == torch.float32 and torch.isfinite(out).all()


class TestDegenerate:
    def test_flags(self):
        X, _, _ = random_scene(4, 20, 6)
        X[1, :, 1] = 2 * X[1, :, 0] + 3  # collinear (u, v)
        X[2] = X[2, :1].expand(20, 4)  # one repeated point
        w = torch.ones(4, 20, dtype=torch.bool)
        w[3, 3:] = False  # three valid points
        assert affine_degenerate(X, w).tolist() == [False, True, True, True]

    def test_degenerate_pairs_stay_finite(self):
        X, P, _ = random_scene(3, 20, 7)
        X[0] = X[0, :1].expand(20, 4)
        x = project_affine(P, X)
        valid = torch.ones(3, 20, dtype=torch.bool)
        valid[1] = False  # no valid point at all
        fit = fit_affine_camera(X, x, valid, threshold=2.0, generator=torch.Generator().manual_seed(0))
        assert torch.isfinite(fit.P).all()
        assert fit.degenerate.tolist() == [True, True, False]


class TestRansac:
    @pytest.mark.parametrize("outlier_ratio", [0.0, 0.3, 0.5])
    def test_recovers_camera_with_outliers(self, outlier_ratio):
        B, N = 8, 400
        X, P, g = random_scene(B, N, 10, dtype=torch.float32)
        x = project_affine(P, X) + 0.5 * torch.randn(B, N, 2, generator=g)
        outlier = torch.rand(B, N, generator=g) < outlier_ratio
        x = torch.where(outlier.unsqueeze(-1), torch.rand(B, N, 2, generator=g) * 256, x)
        fit = fit_affine_camera(X, x, threshold=3.0, hypotheses=256, generator=torch.Generator().manual_seed(1))
        true_inlier = ~outlier & ((project_affine(P, X) - x).norm(dim=-1) < 3.0)
        recall = (fit.inliers & true_inlier).sum() / true_inlier.sum()
        assert recall >= 0.99
        # Reprojection through the refitted camera agrees with the true camera on the clean points.
        err = (project_affine(fit.P, X) - project_affine(P, X)).norm(dim=-1)
        assert err.median() < 0.3
        assert not fit.degenerate.any()

    def test_preemptive_scoring_finds_the_same_inliers_as_exhaustive_scoring(self):
        B, N = 4, 3000
        X, P, g = random_scene(B, N, 13, dtype=torch.float32)
        x = project_affine(P, X) + 0.5 * torch.randn(B, N, 2, generator=g)
        outlier = torch.rand(B, N, generator=g) < 0.5
        x = torch.where(outlier.unsqueeze(-1), torch.rand(B, N, 2, generator=g) * 256, x)
        fast = fit_affine_camera(X, x, threshold=3.0, generator=torch.Generator().manual_seed(2))
        full = fit_affine_camera(X, x, threshold=3.0, generator=torch.Generator().manual_seed(2), score_points=N)
        agree = (fast.inliers == full.inliers).float().mean()
        assert agree > 0.995
        true_inlier = ~outlier & ((project_affine(P, X) - x).norm(dim=-1) < 3.0)
        assert (fast.inliers & true_inlier).sum() / true_inlier.sum() >= 0.99

    def test_same_seed_same_result_and_different_seed_differs(self):
        X, P, g = random_scene(4, 200, 11, dtype=torch.float32)
        x = project_affine(P, X) + 0.5 * torch.randn(4, 200, 2, generator=g)
        x[:, :60] = torch.rand(4, 60, 2, generator=g) * 256

        def run(seed):
            return fit_affine_camera(X, x, threshold=3.0, hypotheses=16, generator=torch.Generator().manual_seed(seed))

        a, b, c = run(5), run(5), run(6)
        assert torch.equal(a.P, b.P) and torch.equal(a.inliers, b.inliers)
        assert not torch.equal(a.P, c.P)

    def test_padding_is_never_an_inlier_and_chunking_gives_the_same_answer(self):
        X, P, g = random_scene(2, 100, 12, dtype=torch.float32)
        x = project_affine(P, X)
        valid = torch.ones(2, 100, dtype=torch.bool)
        valid[0, 50:] = False
        full = fit_affine_camera(X, x, valid, threshold=1.0, hypotheses=32, generator=torch.Generator().manual_seed(0))
        chunked = fit_affine_camera(
            X, x, valid, threshold=1.0, hypotheses=32, generator=torch.Generator().manual_seed(0), max_elements=300
        )
        assert not full.inliers[0, 50:].any() and full.inliers[0, :50].all()
        assert torch.equal(full.inliers, chunked.inliers)
        torch.testing.assert_close(full.P, chunked.P)


def test_sampling_draws_only_valid_points_for_prefix_and_scattered_masks():
    from pointkit.camera.affine import sample_valid

    prefix = torch.arange(10) < torch.tensor([[3], [10]])
    scattered = torch.zeros(2, 10, dtype=torch.bool)
    scattered[0, [1, 4, 8]] = True
    scattered[1, [0, 9]] = True
    for valid in (prefix, scattered):
        idx = sample_valid(valid, 500, torch.Generator().manual_seed(0))
        for b in range(2):
            drawn = set(idx[b].tolist())
            assert drawn == set(torch.nonzero(valid[b]).flatten().tolist())  # every valid point, nothing else
