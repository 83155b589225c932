"""pointkit.masks and the optional silhouette prior of LiftNet (input channel, training, lift)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import pointkit
from pointkit.lifting.predict import predict
from pointkit.masks import (
    border_share,
    inside_distance,
    plausible_mask,
    silhouette_heuristic,
    silhouette_prior,
    silhouette_prior_batch,
)
from pointkit.models import LiftNet, LiftNetConfig, load_checkpoint
from pointkit.training.objective import network_input


def disc(side: int, radius: float, centre: tuple[float, float] | None = None) -> np.ndarray:
    cy, cx = centre or (side / 2, side / 2)
    v, u = np.mgrid[0:side, 0:side] + 0.5
    return (u - cx) ** 2 + (v - cy) ** 2 <= radius**2


def test_inside_distance_counts_the_image_border_as_background():
    m = np.ones((9, 9), bool)
    d = inside_distance(m)
    assert d[4, 4] == pytest.approx(5.0, abs=0.05) and d[0, 4] == pytest.approx(1.0, abs=0.05)
    brute = np.array([[min(i + 1, j + 1, 9 - i, 9 - j) for j in range(9)] for i in range(9)], float)
    assert np.abs(d - brute).max() < 0.05  # a square's distance is its L-inf ring here
    assert (inside_distance(~m) == 0).all()


def test_silhouette_prior_is_size_invariant_and_peaks_in_the_middle():
    small, large = silhouette_prior(disc(64, 10)), silhouette_prior(disc(256, 40))
    assert small.max() == pytest.approx(1.0, abs=0.08) and large.max() == pytest.approx(1.0, abs=0.03)
    # the same relative position gives the same value at both sizes: sqrt(distance / radius)
    assert small[32, 32 + 5] == pytest.approx(large[128, 128 + 20], abs=0.06)
    assert large[128, 128 + 20] == pytest.approx(np.sqrt(20.5 / 40), abs=0.03)
    assert (small[~disc(64, 10)] == 0).all() and (silhouette_prior(np.zeros((8, 8), bool)) == 0).all()
    h = silhouette_heuristic(disc(64, 10))
    assert h[32, 32] == pytest.approx(-np.sqrt(inside_distance(disc(64, 10))[32, 32]))


def test_prior_batch_matches_the_single_image_function():
    masks = torch.from_numpy(np.stack([disc(32, 8), disc(32, 12, (10, 20)), np.zeros((32, 32), bool)]))
    batch = silhouette_prior_batch(masks)
    assert batch.shape == (3, 1, 32, 32) and batch.dtype == torch.float32
    for b in range(3):
        assert np.array_equal(batch[b, 0].numpy(), silhouette_prior(masks[b].numpy()))


def test_plausible_mask_rejects_frame_filling_and_tiny_masks():
    assert plausible_mask(disc(64, 16))
    assert not plausible_mask(np.ones((64, 64), bool))  # the whole frame
    assert not plausible_mask(disc(64, 1))  # a speck
    band = np.zeros((64, 64), bool)
    band[40:] = True  # background floor: touches 3 sides
    assert border_share(band) > 0.35 and not plausible_mask(band)
    bust = disc(64, 20, (50, 32))  # cut by the bottom edge: still fine
    assert 0 < border_share(bust) < 0.35 and plausible_mask(bust)


def test_prior_model_takes_four_channels_and_round_trips(tmp_path):
    net = LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True, prior="silhouette")).eval()
    assert net(torch.zeros(2, 4, 32, 32)).shape == (2, 2, 32, 32)
    with pytest.raises(ValueError, match=r"\(B, 4, 32, 32\)"):
        net(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="prior must be one of"):
        LiftNetConfig(prior="edges")
    loaded, _ = load_checkpoint(net.save(tmp_path / "p.safetensors"))
    assert loaded.config.prior == "silhouette"
    x = torch.randn(1, 4, 32, 32)
    assert torch.equal(loaded(x), net(x))


def test_network_input_drops_the_prior_per_sample_reproducibly():
    net = LiftNet(LiftNetConfig(input_size=32, ngf=4, prior="silhouette"))
    masks = torch.from_numpy(np.stack([disc(32, 10)] * 8))
    batch = {"image": torch.zeros(8, 3, 32, 32, dtype=torch.uint8), "mask": masks}
    full = network_input(net, batch, False)
    assert full.shape == (8, 4, 32, 32) and torch.equal(full[:, 3:], silhouette_prior_batch(masks))
    a = network_input(net, batch, False, 0.5, torch.Generator().manual_seed(3))
    b = network_input(net, batch, False, 0.5, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    dropped = a[:, 3].flatten(1).abs().sum(1) == 0
    assert 0 < int(dropped.sum()) < 8  # some samples lose it, some keep it
    plain = LiftNet(LiftNetConfig(input_size=32, ngf=4))
    assert network_input(plain, batch, False).shape == (8, 3, 32, 32)


def test_lift_feeds_the_chosen_mask_to_a_prior_model(tmp_path):
    torch.manual_seed(0)
    net = LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True, prior="silhouette")).eval()
    ckpt = net.save(tmp_path / "p.safetensors")
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
    mask = disc(48, 14, (20, 24))[:40]
    result = pointkit.lift(image, checkpoint=ckpt, mask=mask)
    raw, _ = predict(net, image, mask=mask)  # the depth pass sees the user's mask
    np.testing.assert_allclose(result.raw, raw - np.median(raw[mask]), atol=1e-6)
    no_prior, _ = predict(net, image)
    assert not np.allclose(raw, no_prior)  # and the prior does change the output
    assert np.median(result.raw[mask]) == pytest.approx(0.0, abs=1e-6)  # canonical: zero median on the object


def test_refine_mask_settles_a_coarse_learned_mask_on_the_object_edges():
    """A learned mask that is right inside but blurred 4 px past the edges (as a 128 px head is,
    upsampled): GrabCut seeded with it moves the boundary back onto the object."""
    import cv2

    from pointkit.masks import SURE_LOGIT, refine_mask
    from pointkit.render import render_views, sculpture

    v = render_views(sculpture(0, 5, kind="blob"), [(0.0, 0.0)], 96)[0]
    signed = cv2.distanceTransform(v.mask.astype(np.uint8), cv2.DIST_L2, 5) - cv2.distanceTransform(
        (~v.mask).astype(np.uint8), cv2.DIST_L2, 5
    )
    logits = (signed + 4.0).astype(np.float32)  # the boundary 4 px outside
    coarse = logits > 0
    refined = refine_mask(v.image, logits)
    iou = lambda a: (a & v.mask).sum() / (a | v.mask).sum()  # noqa: E731
    assert iou(refined) > iou(coarse) + 0.05 and iou(refined) > 0.9
    assert refined[logits > SURE_LOGIT].all() and not refined[logits < -SURE_LOGIT].any()  # sure labels stay
    assert np.array_equal(refine_mask(v.image, np.full(v.mask.shape, -9.0, np.float32)), np.zeros_like(v.mask))


def test_auto_mask_takes_grabcut_when_the_learned_mask_leads_grabcut_into_the_background():
    """A head that marks a patch of the backdrop (as fine-tuned heads did on the temple's black
    cloth): seeded with it, GrabCut grows over the backdrop to the frame's border. auto then
    takes GrabCut from the border, which finds the object, not the head's patch."""
    from pointkit.imaging import from_array
    from pointkit.masks import object_mask

    rng = np.random.default_rng(0)
    side = 96
    obj = disc(side, 22)
    rgb = np.where(obj[..., None], 225, 25).astype(np.int16) + rng.integers(-12, 13, (side, side, 3))
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    patch = disc(side, 9, centre=(20, 20))  # on the backdrop, clear of the border and the object
    logits = np.where(patch, 5.0, -1.0).astype(np.float32)
    assert plausible_mask(patch) and not (patch & obj).any()
    mask, source = object_mask(from_array(rgb), logits, "auto")
    assert source == "grabcut"
    assert (mask & obj).sum() / (mask | obj).sum() > 0.9
