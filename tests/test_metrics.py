"""pointkit.metrics against hand-computed examples."""

import math

import numpy as np
import pytest
import torch

from pointkit.metrics import align_depth, depth_metrics


def test_paper_alignment_by_hand():
    pred = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    gt = torch.tensor([[[2.0, 2.0], [4.0, 9.0]]])
    mask = torch.tensor([[[True, True], [True, False]]])  # 4.0 / 9.0 excluded
    # a = (1*2 + 2*2 + 3*4) / (1 + 4 + 9) = 18/14; median pred = 2, median gt = 2.
    a = 18 / 14
    expected = torch.tensor([[[a * (1 - 2) + 2, 2.0], [a * (3 - 2) + 2, a * (4 - 2) + 2]]])
    torch.testing.assert_close(align_depth(pred, gt, mask, "paper"), expected)


def test_paper_median_of_even_count_is_mean_of_middle_values():
    pred = torch.tensor([[1.0, 2.0, 3.0, 10.0]]).view(1, 1, 2, 2)
    gt = torch.ones(1, 1, 2, 2)
    a = (1 + 2 + 3 + 10) / (1 + 4 + 9 + 100)
    out = align_depth(pred, gt, torch.ones_like(pred, dtype=torch.bool), "paper")
    torch.testing.assert_close(out.flatten(), a * (torch.tensor([1.0, 2, 3, 10]) - 2.5) + 1)


def test_ls_and_affine_recover_exact_transforms():
    g = torch.Generator().manual_seed(0)
    gt = torch.rand(2, 1, 6, 5, generator=g, dtype=torch.float64) + 1
    mask = torch.rand(2, 1, 6, 5, generator=g) > 0.2
    torch.testing.assert_close(align_depth(-3 * gt + 7, gt, mask, "ls")[mask], gt[mask])
    v, u = torch.meshgrid(
        torch.arange(6, dtype=torch.float64) + 0.5, torch.arange(5, dtype=torch.float64) + 0.5, indexing="ij"
    )
    sheared = 0.5 * gt + 0.2 * u - 0.3 * v + 1
    torch.testing.assert_close(align_depth(sheared, gt, mask, "affine")[mask], gt[mask])
    # "ls" cannot remove a shear; "affine" can.
    assert (align_depth(sheared, gt, mask, "ls") - gt)[mask].abs().max() > 0.05


def test_ls_matches_numpy_polyfit():
    g = torch.Generator().manual_seed(1)
    pred, gt = (
        torch.randn(1, 4, 4, generator=g, dtype=torch.float64),
        torch.rand(1, 4, 4, generator=g, dtype=torch.float64) + 1,
    )
    mask = torch.ones(1, 4, 4, dtype=torch.bool)
    a, b = np.polyfit(pred.flatten().numpy(), gt.flatten().numpy(), 1)
    np.testing.assert_allclose(
        align_depth(pred, gt, mask, "ls").flatten().numpy(), a * pred.flatten().numpy() + b, rtol=1e-10
    )


def test_metrics_zero_for_perfect_prediction_in_every_mode():
    gt = torch.tensor([[[1.0, 2.0], [4.0, 2.5]]], dtype=torch.float64)
    mask = torch.ones_like(gt, dtype=torch.bool)
    for mode in ("paper", "ls", "affine"):
        m = depth_metrics(gt.clone(), gt, mask, mode=mode)
        assert m == pytest.approx({"l1": 0, "rmse": 0, "abs_rel": 0, "sq_rel": 0, "delta1": 1}, abs=1e-9)


def test_metrics_values_without_alignment_effect():
    # pred already aligned in the paper's sense: pred == gt except one pixel; compute by hand on the
    # aligned output so the check does not depend on the alignment itself.
    gt = torch.tensor([[[2.0, 2.0, 2.0, 4.0]]], dtype=torch.float64).view(1, 1, 2, 2)
    pred = torch.tensor([[[2.0, 2.0, 2.0, 6.0]]], dtype=torch.float64).view(1, 1, 2, 2)
    mask = torch.ones_like(gt, dtype=torch.bool)
    aligned = align_depth(pred, gt, mask, "paper")
    diff = (aligned - gt).flatten().numpy()
    g = gt.flatten().numpy()
    a = aligned.flatten().numpy()
    expected = {
        "l1": np.abs(diff).mean(),
        "rmse": math.sqrt((diff**2).mean()),
        "abs_rel": (np.abs(diff) / g).mean(),
        "sq_rel": (diff**2 / g).mean(),
        "delta1": (np.maximum(a / g, g / a) < 1.25).mean(),
    }
    assert depth_metrics(pred, gt, mask, mode="paper") == pytest.approx(expected)
    # Hand value of the alignment itself: a = (4+4+4+24)/(4+4+4+36) = 0.75; medians 2 and 2.
    torch.testing.assert_close(aligned.flatten(), torch.tensor([2.0, 2.0, 2.0, 5.0], dtype=torch.float64))


def test_per_image_average_and_mask():
    gt = torch.ones(2, 1, 2, 2, dtype=torch.float64) * 2
    pred = gt.clone()
    pred[1, 0, 0, 0] = 100.0
    mask = torch.ones_like(gt, dtype=torch.bool)
    mask[1, 0, 0, 0] = False
    per = depth_metrics(pred, gt, mask, mode="ls", per_image=True)
    assert per["rmse"].shape == (2,) and per["rmse"].max() < 1e-9


def test_bad_mode_and_shapes():
    x = torch.ones(1, 2, 2)
    with pytest.raises(ValueError, match="mode"):
        align_depth(x, x, x.bool(), "median")
    with pytest.raises(ValueError, match="one shape"):
        depth_metrics(x, torch.ones(1, 3, 3), x.bool())
