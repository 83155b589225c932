"""The Blender (Cycles) renderer plugin: tiny renders only (CI has 2 cores). Blender runs in the
renderer's worker process (tests/test_blender_worker.py tests that boundary)."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import blender_worker_or_skip

blender_worker_or_skip()

from pointkit import registry  # noqa: E402

from pointkit.data.format import Dataset  # noqa: E402
from pointkit.render import build_dataset, render_views, sculpture  # noqa: E402

pytestmark = pytest.mark.blender
VIEWS = [(0.0, 0.0), (70.0, 25.0)]
TINY = dict(samples=2, threads=2)


@pytest.fixture(scope="module")
def mesh():
    # A compact family, so that the silhouette-agreement ratio at 48 px does not depend on which
    # family sculpture(0, 3) happens to draw (thin limbs are mostly silhouette pixels).
    return sculpture(0, 3, kind="blob")


@pytest.fixture(scope="module")
def blender_views(mesh):
    return render_views(mesh, VIEWS, 48, renderer="blender", seed=5, **TINY)


def test_registered():
    assert "blender" in registry.available("pointkit.renderers")
    assert registry.load("pointkit.renderers", "blender").name == "blender"


def test_agrees_with_fast_backend(mesh, blender_views):
    fast_views = render_views(mesh, VIEWS, 48, renderer="fast", seed=5)
    for b, f in zip(blender_views, fast_views):
        np.testing.assert_array_equal(b.mask, f.mask)
        np.testing.assert_array_equal(b.depth, f.depth)
        np.testing.assert_allclose(b.affine, f.affine)
        # Cycles' own coverage (its camera, not ours) must cover the ray-cast mask: only
        # silhouette pixels may differ.
        cycles = b.coverage > 0.5
        assert (cycles & f.mask).sum() / (cycles | f.mask).sum() > 0.97
        assert b.image.shape == (48, 48, 3) and b.image.dtype == np.uint8
        assert b.image[b.mask].std() > 3  # shaded, not flat


def test_seeded(mesh, blender_views):
    again = render_views(mesh, VIEWS[:1], 48, renderer="blender", seed=5, **TINY)[0]
    np.testing.assert_array_equal(again.image, blender_views[0].image)


def test_dataset_with_blender(tmp_path):
    summary = build_dataset(
        tmp_path / "ds", procedural=1, views=2, resolution=32, renderer="blender", renderer_options=TINY, progress=False
    )
    assert summary["rendered"] == 1
    ds = Dataset.open(tmp_path / "ds")
    assert ds.manifest["renderer"] == "blender" and ds.manifest["renderer_options"] == TINY
    assert ds.read("sculpture-000000").images.shape == (2, 32, 32, 3)


# ------------------------------------------------------------------------------- photo style

APPEARANCE = "/work/shared/data/appearance"


@pytest.fixture(scope="module")
def photo_views(mesh):
    import os

    if not os.path.isdir(APPEARANCE):
        pytest.skip(f"appearance assets not found at {APPEARANCE}")
    return render_views(
        mesh,
        VIEWS,
        48,
        renderer="blender",
        seed=5,
        style="photo",
        assets=APPEARANCE,
        background="pxhere",
        samples=4,
        threads=2,
    )


def test_photo_style(mesh, blender_views, photo_views):
    for p, b in zip(photo_views, blender_views):
        assert p.image.shape == (48, 48, 3) and p.image.dtype == np.uint8
        assert np.abs(p.image.astype(int) - b.image.astype(int)).mean() > 5  # a different look
        np.testing.assert_array_equal(p.mask, b.mask)  # depth and mask are the exact ray casts
        np.testing.assert_array_equal(p.depth, b.depth)
        assert p.background.startswith("photo:pxhere")
        assert p.image[~p.mask].std() > 5  # a photo, not a constant backdrop
        cycles = p.coverage > 0.5
        assert (cycles & p.mask).sum() / (cycles | p.mask).sum() > 0.97


def test_photo_style_seeded(mesh, photo_views):
    # Cycles on the CPU (fixed seed and thread count, OIDN) was bit-identical across runs here.
    again = render_views(
        mesh,
        VIEWS[:1],
        48,
        renderer="blender",
        seed=5,
        style="photo",
        assets=APPEARANCE,
        background="pxhere",
        samples=4,
        threads=2,
    )[0]
    np.testing.assert_array_equal(again.image, photo_views[0].image)


def test_photo_style_missing_assets(tmp_path, mesh):
    from pointkit.errors import PointkitError

    with pytest.raises(PointkitError, match="assets"):
        render_views(mesh, VIEWS[:1], 16, renderer="blender", style="photo", assets=str(tmp_path / "nowhere"))
    with pytest.raises(PointkitError, match="style"):
        render_views(mesh, VIEWS[:1], 16, renderer="blender", style="painted")
