"""The background core (pointkit.backgrounds): its painters against independent computations
(slices, block means, OpenCV), and both mixes seeded, in range and with clear errors."""

from __future__ import annotations

import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from pointkit import backgrounds as bg
from pointkit.errors import PointkitError


def _photos(n=2, h=40, w=50, seed=0):
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))


def _box(*values):
    return [torch.tensor([float(v)] * 2) for v in values]


def test_a_crop_at_its_own_size_is_the_slice():
    photos = _photos()
    out = bg.crop_photos(photos, *_box(5, 7, 16, 12), (12, 16))
    torch.testing.assert_close(out, photos[:, :, 7:19, 5:21], atol=1e-5, rtol=0)


def test_a_box_filtered_crop_is_opencvs_area_resampling_and_a_plain_one_aliases():
    photos = _photos(h=60, w=70)
    for x0, y0, width, height, size in ((9, 4, 24, 24, (8, 8)), (3, 5, 50, 37, (11, 15)), (10, 20, 13, 9, (16, 20))):
        crop = photos[0, :, y0 : y0 + height, x0 : x0 + width].permute(1, 2, 0).numpy()
        area = cv2.resize(crop, size[::-1], interpolation=cv2.INTER_AREA).transpose(2, 0, 1)
        boxed = bg.crop_photos(photos, *_box(x0, y0, width, height), size, box_filter=True)[0].numpy()
        np.testing.assert_allclose(boxed, area, atol=1e-5, err_msg=f"{width}x{height} -> {size}")
        whole = photos[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(
            bg.crop_photo(whole, x0, y0, width, height, *size), area.transpose(1, 2, 0), atol=1e-5
        )
    plain = bg.crop_photos(photos, *_box(9, 4, 24, 24), (8, 8))[0].numpy()
    blocks = photos[0, :, 4:28, 9:33].numpy().reshape(3, 8, 3, 8, 3).mean((2, 4))
    assert np.abs(plain - blocks).mean() > 0.05  # one bilinear sample per pixel: not the area mean


def test_blur_matches_opencv():
    image = np.random.default_rng(1).random((37, 41, 3)).astype(np.float32)
    for sigma in (0.7, 1.3, 3.0):
        ours = bg.blur(torch.from_numpy(image).permute(2, 0, 1)[None], sigma)[0].permute(1, 2, 0).numpy()
        np.testing.assert_allclose(ours, cv2.GaussianBlur(image, (0, 0), sigma), atol=1e-5)


def test_shapes_fill_the_pixels_opencv_fills():
    h, w = 48, 64
    ours = bg.rectangle(h, w, 20, 30, 7, 11).numpy()
    theirs = cv2.rectangle(np.zeros((h, w), np.uint8), (13, 19), (27, 41), 1, -1).astype(bool)
    assert np.array_equal(ours, theirs)
    for degrees in (0.0, 35.0):
        ours = bg.ellipse(h, w, 30, 22, 18, 9, degrees).numpy()
        theirs = cv2.ellipse(np.zeros((h, w), np.uint8), (30, 22), (18, 9), degrees, 0, 360, 1, -1).astype(bool)
        assert (ours & theirs).sum() / (ours | theirs).sum() > 0.98  # OpenCV fills a polygon of the ellipse


def test_linear_gradient_runs_along_its_angle_through_pixel_centres():
    c0, c1 = torch.tensor([0.1, 0.2, 0.3]).view(1, 3, 1, 1), torch.tensor([0.9, 0.6, 0.3]).view(1, 3, 1, 1)
    across = bg.linear_gradient(c0, c1, torch.zeros(1, 1, 1), 5, 8)[0]
    expected = c0[0] + (c1[0] - c0[0]) * ((torch.arange(8) + 0.5) / 8).view(1, 1, 8)
    torch.testing.assert_close(across, expected.expand(3, 5, 8))
    down = bg.linear_gradient(c0, c1, torch.full((1, 1, 1), math.pi / 2), 5, 8)[0]
    torch.testing.assert_close(
        down, (c0[0] + (c1[0] - c0[0]) * ((torch.arange(5) + 0.5) / 5).view(1, 5, 1)).expand(3, 5, 8)
    )
    np.testing.assert_array_equal(bg.vertical_gradient(c0.flatten(), c1.flatten(), 5, 8), down.permute(1, 2, 0).numpy())


def test_studio_backgrounds_are_seeded_in_range_and_show_the_photos():
    def draw(seed, **kw):
        return bg.studio_backgrounds(6, 24, torch.Generator().manual_seed(seed), "cpu", **kw)

    a, b, c = draw(1), draw(1), draw(2)
    assert a.shape == (6, 3, 24, 24) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1 and a.std() > 0.05
    colour = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1)
    photo = draw(1, photos=colour.expand(1, 3, 64, 64), photo_prob=1.0)  # crops of >= 25 px: no edge
    torch.testing.assert_close(photo, (colour.float() / 255).expand(6, 3, 24, 24))


@pytest.mark.parametrize("kind", bg.PHOTO_STYLE_KINDS[1:])
def test_photo_style_procedural_kinds_are_seeded(kind):
    def draw(seed):
        return bg.photo_style_background(np.random.default_rng(seed), 30, 40, None, kind=kind)

    (a, name), (b, _), (c, _) = draw(0), draw(0), draw(1)
    assert name == kind and a.shape == (30, 40, 3) and a.dtype == np.float32
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    if kind == "black_cloth":
        assert a.mean() < 0.05
    if kind == "white_cloth":
        assert a.mean() > 0.3


def test_photo_style_draws_only_procedural_kinds_without_photos_and_names_bad_kinds(tmp_path):
    names = {bg.photo_style_background(np.random.default_rng(s), 8, 8, None)[1] for s in range(40)}
    assert names == set(bg.PHOTO_STYLE_KINDS[1:])
    with pytest.raises(PointkitError, match="black_cloth, white_cloth"):
        bg.photo_style_background(np.random.default_rng(0), 8, 8, None, kind="velvet")
    (tmp_path / "backgrounds").mkdir()
    with pytest.raises(PointkitError, match="no all background photo matches"):
        bg.photo_style_background(np.random.default_rng(0), 8, 8, tmp_path, kind="photo:humus_*")


def test_the_floor_leaves_the_wall_and_shades_under_the_object():
    rng = np.random.default_rng(3)
    wall = np.full((40, 40, 3), 0.5, np.float32)
    mask = np.zeros((40, 40), bool)
    mask[10:30, 15:25] = True
    out = bg.add_floor(rng, wall, mask)
    assert np.array_equal(out[:12], wall[:12])  # the horizon is at least 5 % of the height over the object's foot
    foot = out[29:33, :, 0]
    assert foot[:, 18:22].mean() < 0.9 * foot[:, :5].mean()  # the contact shadow under the object


def test_the_core_and_the_engines_photo_mix_need_only_torch_and_numpy():
    """The engine imports and draws them on GPU machines that have torch alone."""
    code = (
        "import sys, torch, pointkit.backgrounds as bg, pointkit.engine\n"
        "bg.photo_style_backgrounds(torch.ones(8, 16, 16, dtype=torch.bool), torch.Generator().manual_seed(0))\n"
        "print(sorted({'cv2', 'kornia', 'trimesh', 'open3d', 'scipy'} & set(sys.modules)))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "[]", run.stdout + run.stderr[-2000:]


def test_the_photo_mix_for_the_engine_is_seeded_and_keeps_a_photos_colour():
    masks = torch.zeros(5, 32, 32, dtype=torch.bool)
    masks[:, 8:24, 12:20] = True
    a = bg.photo_style_backgrounds(masks, torch.Generator().manual_seed(4))
    b = bg.photo_style_backgrounds(masks, torch.Generator().manual_seed(4))
    assert a.shape == (5, 3, 32, 32) and torch.equal(a, b) and 0 <= a.min() and a.max() <= 1
    colour = torch.tensor([200, 100, 50], dtype=torch.uint8).view(1, 3, 1, 1)
    photo = bg.photo_style_backgrounds(
        masks, torch.Generator().manual_seed(4), colour.expand(2, 3, 64, 64), photo_prob=1.0, floor_prob=0.0
    )
    # crop, flip and blur keep a flat photo flat; its exposure scales linear light, so the
    # display values keep the photo's channel ratios
    flat = photo.flatten(2)
    torch.testing.assert_close(flat, flat[..., :1].expand_as(flat), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        flat[:, :, 0] / flat[:, :1, 0], (colour.view(1, 3) / 200.0).expand(5, 3), atol=1e-4, rtol=0
    )
