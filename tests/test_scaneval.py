"""pkbench.scaneval (benchmarks/pkbench): the real-scan test renders and their scoring (benchmarks/real_scans.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pkbench import scaneval
from pointkit.errors import PointkitError
from pointkit.masks import silhouette_heuristic
from pointkit.render import render_views
from pointkit.render.assets import background_split
from pointkit.render.views import get_renderer

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not (SHARED / "meshes" / "scans").is_dir() or not (SHARED / "appearance").is_dir(),
    reason="../shared/data (scans and appearance assets) is absent",
)


@pytest.fixture(scope="module")
def views():
    return scaneval.render_test_views(resolution=64, names=("duck.off",), types=("black", "outdoors"))


@needs_shared
def test_test_views_use_held_out_backgrounds_and_are_reproducible(views):
    assert len(views) == 2 * len(scaneval.VIEWS) and {v.background for v in views} == {"black", "outdoors"}
    assert all(v.mask.any() and (v.depth[v.mask] > 0).all() for v in views)
    again = scaneval.render_test_views(resolution=64, names=("duck.off",), types=("black", "outdoors"))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(views, again))
    black = [v for v in views if v.background == "black"][0]
    assert np.median(black.image[~black.mask]) < 90  # a dark backdrop
    # the photo backgrounds come from the test split only
    renderer = get_renderer("fast", style="photo", backgrounds="test", background="photo:humus_*")
    kinds = [
        v.background
        for v in render_views(SHARED / "meshes" / "scans" / "duck.off", [(0, 0)] * 4, 32, renderer=renderer)
    ]
    assert all(background_split(k.split(":")[1].split("+")[0]) == "test" for k in kinds)


@needs_shared
def test_scores_of_exact_flat_and_heuristic_predictions(views):
    v = views[0]
    true = v.mask & (v.depth > 0)
    exact = scaneval.score_view(v, v.depth - np.median(v.depth[true]), true)
    assert exact["iou"] == 1.0 and exact["model_ls"] < 1e-6 and exact["model_affine"] < 1e-6
    assert exact["flat_ls"] == pytest.approx(v.depth[true].std(), rel=1e-6)
    flat = scaneval.score_view(v, np.zeros_like(v.depth), true)
    assert flat["model_ls"] == pytest.approx(flat["flat_ls"], rel=1e-9)
    heur = scaneval.score_view(v, silhouette_heuristic(true), true)
    assert heur["model_ls"] == pytest.approx(heur["heuristic_ls"], rel=1e-9)
    # a mask that misses half the object: those pixels count as depth 0 and the IoU drops
    half = true.copy()
    half[:, : half.shape[1] // 2] = False
    missed = scaneval.score_view(v, v.depth - np.median(v.depth[true]), half)
    assert missed["iou"] < 0.8 and missed["model_ls"] > exact["model_ls"]


def test_missing_scans_or_unknown_background_is_a_one_line_error(tmp_path):
    with pytest.raises(PointkitError, match="test scans missing"):
        scaneval.render_test_views(tmp_path)
    (tmp_path / "tri.off").write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 2\n")
    with pytest.raises(PointkitError, match="unknown background type 'beach'"):
        scaneval.render_test_views(tmp_path, names=("tri.off",), types=("beach",))


@needs_shared
def test_cached_views_round_trip(tmp_path, monkeypatch, views):
    monkeypatch.setattr(scaneval, "render_test_views", lambda *a, **k: views)
    first = scaneval.cached_test_views(tmp_path / "v.npz", resolution=64)
    monkeypatch.setattr(scaneval, "render_test_views", lambda *a, **k: pytest.fail("the cache was not used"))
    again = scaneval.cached_test_views(tmp_path / "v.npz", resolution=64)
    assert len(again) == len(first) and all(
        np.array_equal(a.image, b.image)
        and np.array_equal(a.depth, b.depth)
        and a.scan == b.scan
        and a.background == b.background
        for a, b in zip(first, again)
    )
