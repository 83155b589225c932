"""pkbench.realeval (benchmarks/pkbench): camera parsers, sparse true depth, reference masks, point alignment, scores."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pkbench import realeval

PHOTOS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "photos"
needs_photos = pytest.mark.skipif(
    not PHOTOS.is_dir(),
    reason=f"real photo sets not found at {PHOTOS} (shared/data beside the repository; a fresh clone has none)",
)


@pytest.fixture(scope="module")
def sets():
    return {name: realeval.load_photo_set(name, PHOTOS) for name in ("temple", "fountain", "dino")}


@needs_photos
@pytest.mark.parametrize("name", ["temple", "fountain"])
def test_true_cameras_triangulate_matches(sets, name):
    """All ratio-test matches of one neighbouring pair (no epipolar filter) triangulated with the
    parsed cameras reproject with median < 1 px; the kept points all within 2 px."""
    ps = sets[name]
    (ua, da), (ub, db) = realeval.sift(ps.rgb(0)), realeval.sift(ps.rgb(1))
    m = realeval.ratio_matches(da, db)
    assert len(m) > 50
    ca, cb = ps.cameras[0], ps.cameras[1]
    X = realeval.triangulate(ca.P, cb.P, ua[m[:, 0]], ub[m[:, 1]])
    err = np.maximum(
        np.linalg.norm(ca.project(X) - ua[m[:, 0]], axis=1), np.linalg.norm(cb.project(X) - ub[m[:, 1]], axis=1)
    )
    assert np.median(err) < 1.0
    epi = realeval.symmetric_epipolar_distance(realeval.fundamental(ca, cb), ua[m[:, 0]], ub[m[:, 1]])
    assert np.median(epi) < 1.0

    sd = realeval.sparse_depth(ps, 0, [1])
    assert len(sd) > 50
    assert sd.reprojection.max() < 2.0 and np.median(sd.reprojection) < 1.0
    W, H = ps.cameras[0].size
    assert (sd.u >= -0.5).all() and (sd.u < W).all() and (sd.v >= -0.5).all() and (sd.v < H).all()


@needs_photos
@pytest.mark.parametrize("name, lo, hi", [("temple", 0.3, 1.0), ("dino", 0.3, 1.0), ("fountain", 2.0, 40.0)])
def test_sparse_depth_plausible(sets, name, lo, hi):
    """Middlebury's gantry puts the camera ~0.5-0.7 m from the object; fountain-P11 is metres."""
    sd = realeval.sparse_depth(sets[name], 0, [1])
    assert len(sd) > 20
    assert (sd.depth > 0).all()
    assert lo < sd.depth.min() and sd.depth.max() < hi


def test_strecha_camera_parser(tmp_path):
    """Camera-to-world R and centre C -> x = K [R^T | -R^T C] X: C projects to nothing (depth 0),
    a point on the optical axis projects to the principal point."""
    R = cv2.Rodrigues(np.array([0.1, -0.3, 0.2]))[0]
    C = np.array([1.0, 2.0, -3.0])
    K = np.array([[500.0, 0, 320], [0, 510, 240], [0, 0, 1]])
    rows = [K, np.zeros((1, 3)), R, C[None], np.array([[640, 480, 0]])[:, :2]]
    text = "\n".join(" ".join(f"{x:.12g}" for x in r) for block in rows for r in np.atleast_2d(block))
    (tmp_path / "a.camera").write_text(text)
    cam = realeval.read_strecha_camera(tmp_path / "a.camera")
    assert cam.size == (640, 480)
    np.testing.assert_allclose(cam.centre, C, atol=1e-9)
    X = C + 2.5 * R[:, 2]  # 2.5 along the camera's z axis (third column)
    np.testing.assert_allclose(cam.depth(X[None]), [2.5], atol=1e-9)
    np.testing.assert_allclose(cam.project(X[None])[0], [320, 240], atol=1e-9)
    # downscaling: pixel centres at integers
    half = cam.scaled(0.5)
    np.testing.assert_allclose(half.project(X[None])[0], [(320 + 0.5) * 0.5 - 0.5, (240 + 0.5) * 0.5 - 0.5], atol=1e-9)


@needs_photos
def test_reference_mask_dino(sets):
    ps = sets["dino"]
    for i in (0, 7):
        m = realeval.reference_mask(ps.rgb(i), **realeval.REFERENCE_MASK_SETTINGS["dino"])
        assert 0.1 < m.mean() < 0.6
        count, _ = cv2.connectedComponents(m.astype(np.uint8), connectivity=8)
        assert count == 2  # background + one object


def test_reference_mask_synthetic():
    img = np.zeros((100, 120, 3), np.uint8)
    cv2.circle(img, (60, 50), 30, (200, 180, 150), -1)
    cv2.circle(img, (60, 50), 3, (10, 10, 10), -1)  # a small dark spot: filled
    cv2.circle(img, (10, 10), 2, (255, 255, 255), -1)  # speck: dropped
    m = realeval.reference_mask(img)
    assert m[50, 60] and not m[10, 10]
    assert abs(m.sum() - np.pi * 30**2) < 0.05 * np.pi * 30**2
    assert realeval.iou(m, m) == 1.0


def test_align_points_recovers_affine():
    rng = np.random.default_rng(0)
    n, W, H = 200, 640, 480
    u, v = rng.uniform(0, W, n), rng.uniform(0, H, n)
    p = rng.normal(size=n)
    gt = 2.5 * p + 0.7 * u / W - 1.3 * v / H + 4.0
    aligned, coef = realeval.align_points(p, gt, u, v, "affine", (W, H))
    np.testing.assert_allclose(aligned, gt, atol=1e-9)
    np.testing.assert_allclose(coef, [2.5, 0.7, -1.3, 4.0], atol=1e-9)
    # noisy target: same fit as plain numpy lstsq
    noisy = gt + rng.normal(scale=0.3, size=n)
    A = np.stack([p, u / W, v / H, np.ones(n)], 1)
    ref = np.linalg.lstsq(A, noisy, rcond=None)[0]
    aligned, coef = realeval.align_points(p, noisy, u, v, "affine", (W, H))
    np.testing.assert_allclose(coef, ref, atol=1e-9)
    np.testing.assert_allclose(aligned, A @ ref, atol=1e-9)
    aligned, coef = realeval.align_points(p, noisy, u, v, "ls")
    ref = np.linalg.lstsq(A[:, [0, 3]], noisy, rcond=None)[0]
    np.testing.assert_allclose(coef, ref, atol=1e-9)


def _synthetic_truth(H=60, W=80, n=300, seed=1):
    rng = np.random.default_rng(seed)
    u, v = rng.integers(0, W, n).astype(float), rng.integers(0, H, n).astype(float)
    yy, xx = np.mgrid[0:H, 0:W]
    true = 5.0 - np.exp(-((xx - 40) ** 2 + (yy - 30) ** 2) / 300.0) + 0.01 * xx
    sd = realeval.SparseDepth(u, v, true[v.astype(int), u.astype(int)], np.zeros(n), np.ones(n, int))
    return true, sd


def test_flat_ratio_is_one_and_exact_is_zero():
    true, sd = _synthetic_truth()
    mask = np.ones_like(true, bool)
    flat = realeval.score_image(np.full_like(true, 3.0), np.zeros_like(true), mask, sd)
    assert flat["coverage"] == 1.0
    for mode in realeval.MODES:
        assert flat[f"{mode}_ratio"] == pytest.approx(1.0, abs=1e-9)
        assert flat[f"flat_{mode}_ratio"] == pytest.approx(1.0)
    exact = realeval.score_image(2 * true + 1, -true, mask, sd)
    for mode in realeval.MODES:
        assert exact[f"{mode}_ratio"] == pytest.approx(0.0, abs=1e-6)
        assert exact[f"raw_{mode}_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert exact["sign_ok"] == 1.0
    # coverage counts points in the mask; ratios use only those
    half = mask.copy()
    half[:, :40] = False
    sc = realeval.score_image(true, true, half, sd)
    assert sc["coverage"] == pytest.approx(np.mean(sd.u >= 40))
    assert sc["scored"] == int(np.sum(sd.u >= 40))


def test_all_points_ratio_scores_the_raw_depth_everywhere_whatever_the_mask():
    true, sd = _synthetic_truth()
    half = np.ones_like(true, bool)
    half[:, :40] = False
    # Raw depth exact on the right half (the mask), noise on the left: the masked ratios see only
    # the exact half, the all-points ratio sees the noise too.
    noise = np.random.default_rng(0).normal(0, 1, true.shape)
    raw = np.where(np.arange(true.shape[1])[None] >= 40, -true, noise)
    sc = realeval.score_image(raw, raw, half, sd)
    assert sc["raw_affine_ratio"] == pytest.approx(0.0, abs=1e-6)
    assert sc["all_affine_ratio"] > 0.3
    # Exact everywhere: 0 with any mask, even one holding too few points to score the others.
    tiny = np.zeros_like(true, bool)
    tiny[0, 0] = True
    sc = realeval.score_image(-true, -true, tiny, sd)
    assert sc["all_affine_ratio"] == pytest.approx(0.0, abs=1e-6) and np.isnan(sc["affine_ratio"])
    flat = realeval.score_image(np.zeros_like(true), np.full_like(true, 2.0), half, sd)
    assert flat["all_ls_ratio"] == pytest.approx(1.0) and flat["all_affine_ratio"] == pytest.approx(1.0)
