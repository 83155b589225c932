"""pointkit.losses: robust cost, correspondence loss, aligned and scale-and-shift-invariant depth losses."""

import numpy as np
import pytest
import torch

from pointkit.camera import project_affine
from pointkit.losses import (
    aligned_depth_loss,
    correspondence_loss,
    robust_cost,
    sample_depth,
    scale_shift_invariant_loss,
)
from pointkit.metrics import align_depth


def paper_R(x, tau):
    """The formula of §3.2 written out independently, in numpy."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x**2 <= tau**2, 0.5 * x**2 * (1 - x**2 / (2 * tau**2)), tau**2 / 4)


class TestRobustCost:
    def test_values(self):
        x = np.linspace(-30, 30, 601)
        np.testing.assert_allclose(robust_cost(torch.tensor(x), 7.0).numpy(), paper_R(x, 7.0), rtol=1e-12)

    def test_smooth_at_tau_and_flat_beyond(self):
        r = torch.tensor([6.999, 7.0, 7.001, 50.0], dtype=torch.float64, requires_grad=True)
        robust_cost(r, 7.0).sum().backward()
        assert r.grad.abs().max() < 1e-2
        assert r.grad[-1] == 0

    def test_no_tau_is_half_square(self):
        r = torch.tensor([0.0, 2.0, 100.0])
        torch.testing.assert_close(robust_cost(r, None), r**2 / 2)


def synthetic_pair(B=2, H=32, W=32, N=64, seed=0, dtype=torch.float64):
    """A smooth depth map, random source points, and targets from a random affine camera."""
    g = torch.Generator().manual_seed(seed)
    v, u = torch.meshgrid(torch.arange(H, dtype=dtype) + 0.5, torch.arange(W, dtype=dtype) + 0.5, indexing="ij")
    depth = torch.stack([torch.sin(u / 5 + k) * torch.cos(v / 7) for k in range(B)]).unsqueeze(1)
    # Inside the hull of pixel centres, where bilinear sampling of a linear function is exact.
    src = 0.5 + torch.rand(B, N, 2, generator=g, dtype=dtype) * torch.tensor([W - 1, H - 1], dtype=dtype)
    d = sample_depth(depth, src)
    X = torch.cat([src, d.unsqueeze(-1), torch.ones(B, N, 1, dtype=dtype)], -1)
    P = torch.cat(
        [
            torch.eye(2, dtype=dtype).expand(B, 2, 2),
            8 * torch.randn(B, 2, 1, generator=g, dtype=dtype),
            torch.randn(B, 2, 1, generator=g, dtype=dtype),
        ],
        -1,
    )
    return depth, src, project_affine(P, X), g


class TestSampleDepth:
    def test_pixel_centres_hit_pixel_values_and_midpoints_interpolate(self):
        depth = torch.arange(12.0).view(1, 1, 3, 4)
        uv = torch.tensor([[[0.5, 0.5], [3.5, 2.5], [1.0, 0.5], [2.5, 1.0]]])
        # (1.0, 0.5) halfway between pixels 0 and 1 of row 0; (2.5, 1.0) halfway between rows 0 and 1.
        torch.testing.assert_close(sample_depth(depth, uv), torch.tensor([[0.0, 11.0, 0.5, 4.0]]))


class TestCorrespondenceLoss:
    @pytest.mark.parametrize("ransac", [False, True])
    def test_zero_for_exact_depth(self, ransac):
        depth, src, tgt, _ = synthetic_pair()
        loss = correspondence_loss(depth, src, tgt, tau=5.0, ransac=ransac, generator=torch.Generator().manual_seed(0))
        assert loss.item() < 1e-12

    @pytest.mark.parametrize("a", [2.5, -0.7])
    def test_invariant_to_affine_depth_ambiguity(self, a):
        depth, src, tgt, g = synthetic_pair()
        noisy_tgt = tgt + 0.8 * torch.randn(tgt.shape, generator=g, dtype=tgt.dtype)
        H, W = depth.shape[-2:]
        v, u = torch.meshgrid(
            torch.arange(H, dtype=depth.dtype) + 0.5, torch.arange(W, dtype=depth.dtype) + 0.5, indexing="ij"
        )
        transformed = a * depth + 0.03 * u - 0.05 * v + 4.0
        for ransac in (False, True):
            base = correspondence_loss(
                depth, src, noisy_tgt, tau=5.0, ransac=ransac, generator=torch.Generator().manual_seed(1)
            )
            moved = correspondence_loss(
                transformed, src, noisy_tgt, tau=5.0, ransac=ransac, generator=torch.Generator().manual_seed(1)
            )
            assert base.item() > 1e-3
            assert moved.item() == pytest.approx(base.item(), rel=1e-6)

    def test_wrong_depth_costs_more_than_right_depth(self):
        depth, src, tgt, _ = synthetic_pair()
        wrong = depth.flip(-1)
        assert correspondence_loss(wrong, src, tgt, tau=5.0, ransac=False) > 0.1

    def test_gradcheck_with_fixed_inliers(self):
        depth, src, tgt, g = synthetic_pair(B=2, H=8, W=8, N=20)
        tgt = tgt + 0.5 * torch.randn(tgt.shape, generator=g, dtype=tgt.dtype)
        valid = torch.ones(2, 20, dtype=torch.bool)
        valid[1, 15:] = False
        depth = (depth + 0.1 * torch.randn(depth.shape, generator=g, dtype=depth.dtype)).requires_grad_(True)
        assert torch.autograd.gradcheck(
            lambda d: correspondence_loss(d, src, tgt, valid, tau=3.0, ransac=False), (depth,)
        )

    def test_outlier_beyond_tau_gets_no_gradient_and_is_not_an_inlier(self):
        depth, src, tgt, _ = synthetic_pair(B=1, N=80)
        tgt = tgt.clone()
        tgt[0, 0] += 200.0
        depth = depth.clone().requires_grad_(True)
        loss, stats = correspondence_loss(
            depth, src, tgt, tau=5.0, ransac=True, return_stats=True, generator=torch.Generator().manual_seed(0)
        )
        loss.backward()
        assert stats.inlier_ratio.item() == pytest.approx(79 / 80)
        # Only the outlier has any error; the cost is capped at tau^2/4 and averaged over 80 points.
        assert loss.item() == pytest.approx(25 / 4 / 80, rel=1e-6)
        assert depth.grad.abs().max() < 1e-8

    def test_degenerate_pair_contributes_zero_and_finite_gradients(self):
        depth, src, tgt, _ = synthetic_pair(B=2, N=30)
        src, tgt = src.clone(), tgt.clone()
        tgt[1] += 3.0  # a uniform shift: pair 1 alone would have zero loss anyway; make pair 0 degenerate
        src[0, :, 1] = 5.0  # collinear source points
        depth = depth.clone().requires_grad_(True)
        loss, stats = correspondence_loss(
            depth, src, tgt, tau=5.0, ransac=True, return_stats=True, generator=torch.Generator().manual_seed(0)
        )
        loss.backward()
        assert stats.degenerate.tolist() == [True, False]
        assert torch.isfinite(depth.grad).all()
        assert loss.item() < 1e-10

    def test_stats_mean_error_in_pixels(self):
        depth, src, tgt, _ = synthetic_pair(B=1, N=40)
        shifted = tgt.clone()
        shifted[0, :4] += torch.tensor([30.0, 40.0], dtype=tgt.dtype)  # 50 px off for 4 of 40 points
        _, stats = correspondence_loss(
            depth, src, shifted, tau=5.0, ransac=True, return_stats=True, generator=torch.Generator().manual_seed(0)
        )
        assert stats.mean_error.item() == pytest.approx(5.0, rel=1e-6)
        assert stats.inlier_ratio.item() == pytest.approx(0.9)


class TestAlignedDepthLoss:
    def test_zero_after_scale_and_shift_and_positive_otherwise(self):
        g = torch.Generator().manual_seed(0)
        gt = torch.rand(2, 1, 8, 8, generator=g, dtype=torch.float64) + 1
        mask = torch.rand(2, 1, 8, 8, generator=g) > 0.3
        # The paper's alignment is exact for pure scalings of gt about its median with zero shift.
        assert aligned_depth_loss(3 * gt, gt, mask).item() < 1e-20
        assert aligned_depth_loss(torch.rand(2, 1, 8, 8, generator=g, dtype=torch.float64), gt, mask).item() > 1e-3

    def test_equals_mse_of_paper_alignment(self):
        g = torch.Generator().manual_seed(1)
        pred, gt = (
            torch.randn(3, 6, 6, generator=g, dtype=torch.float64),
            torch.rand(3, 6, 6, generator=g, dtype=torch.float64) + 1,
        )
        mask = torch.ones(3, 6, 6, dtype=torch.bool)
        expected = ((align_depth(pred, gt, mask, "paper") - gt) ** 2).mean()
        torch.testing.assert_close(aligned_depth_loss(pred, gt, mask), expected)


def midas_loss_numpy(pred, gt, mask, alpha=0.5, scales=4):
    """The MiDaS loss written out independently, in numpy, one image at a time (np.linalg.lstsq
    for the alignment, explicit loops for the gradient term)."""
    losses = []
    for p, t, m in zip(pred, gt, mask):
        if m.sum() < 2:
            continue
        med = np.median(t[m])
        t = (t - med) / np.mean(np.abs(t[m] - med))
        (a, b), *_ = np.linalg.lstsq(np.stack([p[m], np.ones(m.sum())], 1), t[m], rcond=None)
        r = np.where(m, a * p + b - t, 0.0)
        grad = []
        for k in range(scales):
            rk, mk = r[:: 2**k, :: 2**k], m[:: 2**k, :: 2**k]
            total = 0.0
            for i in range(rk.shape[0]):
                for j in range(rk.shape[1]):
                    if j + 1 < rk.shape[1] and mk[i, j] and mk[i, j + 1]:
                        total += abs(rk[i, j + 1] - rk[i, j])
                    if i + 1 < rk.shape[0] and mk[i, j] and mk[i + 1, j]:
                        total += abs(rk[i + 1, j] - rk[i, j])
            grad.append(total / max(mk.sum(), 1))
        losses.append((r[m] ** 2).mean() + alpha * np.mean(grad))
    return np.mean(losses)


class TestScaleShiftInvariantLoss:
    def setup_method(self):
        g = torch.Generator().manual_seed(3)
        self.pred = torch.randn(3, 1, 12, 12, generator=g, dtype=torch.float64)
        self.gt = torch.rand(3, 1, 12, 12, generator=g, dtype=torch.float64) + 1
        self.mask = torch.rand(3, 1, 12, 12, generator=g) > 0.3

    def test_matches_independent_numpy(self):
        expected = midas_loss_numpy(self.pred[:, 0].numpy(), self.gt[:, 0].numpy(), self.mask[:, 0].numpy())
        assert scale_shift_invariant_loss(self.pred, self.gt, self.mask).item() == pytest.approx(expected, rel=1e-9)

    def test_invariant_to_scale_and_shift_of_both(self):
        base = scale_shift_invariant_loss(self.pred, self.gt, self.mask)
        torch.testing.assert_close(scale_shift_invariant_loss(-4 * self.pred + 7, self.gt, self.mask), base)
        torch.testing.assert_close(scale_shift_invariant_loss(self.pred, 0.1 * self.gt - 3, self.mask), base)
        assert scale_shift_invariant_loss(2 * self.gt + 1, self.gt, self.mask).item() < 1e-12

    def test_sees_a_planar_tilt(self):
        """Unlike the correspondence loss, the ground truth's tilt is not free."""
        u = torch.arange(12, dtype=torch.float64).expand(3, 1, 12, 12)
        assert scale_shift_invariant_loss(self.gt + 0.05 * u, self.gt, self.mask).item() > 1e-3

    def test_gradcheck_and_images_without_mask(self):
        mask = self.mask.clone()
        mask[1] = False
        pred = self.pred.clone().requires_grad_(True)
        assert torch.autograd.gradcheck(lambda p: scale_shift_invariant_loss(p, self.gt, mask), (pred,))
        loss = scale_shift_invariant_loss(pred, self.gt, mask)
        loss.backward()
        assert torch.isfinite(pred.grad).all() and pred.grad[1].abs().max() == 0
        keep = [0, 2]
        torch.testing.assert_close(loss, scale_shift_invariant_loss(self.pred[keep], self.gt[keep], self.mask[keep]))
