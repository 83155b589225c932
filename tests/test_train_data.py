"""pointkit.training.data: pair items, fixed K-subsets, resizing, dataset errors.

``make_dataset`` (also used by test_train.py and test_eval.py) writes a tiny dataset directly with
the format writer: smooth depth bumps, images shaded from them, and correspondences produced by a
known affine camera from the true depth, so the correspondence loss of the true depth is zero.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pointkit.data.format import Dataset, ObjectRecord, write_manifest, write_object
from pointkit.errors import PointkitError
from pointkit.training.data import EpochSampler, PairData, collate_pairs, corr_subset


def make_dataset(root, objects=6, size=32, views=3, depth=True, splits=None, seed=0):
    """A dataset at ``root``: ``objects`` objects, ``views`` views each, all ordered pairs.

    Returns the root. Split of object i: ``splits[i]`` (default: train except one val, one test).
    """
    rng = np.random.default_rng(seed)
    splits = splits or (["val", "test"] + ["train"] * (objects - 2))
    v, u = np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="ij")
    entries = {}
    for i in range(objects):
        imgs, masks, depths = [], [], []
        for _ in range(views):
            cx, cy = rng.uniform(0.35, 0.65, 2) * size
            r = rng.uniform(0.25, 0.4) * size
            rr = ((u - cx) ** 2 + (v - cy) ** 2) / r**2
            m = rr < 1
            d = np.where(m, 2.0 - np.sqrt(np.clip(1 - rr, 0, 1)) * rng.uniform(0.3, 0.8), 0).astype(np.float32)
            shade = np.where(m, 60 + 150 * (2.0 - d), 20)
            img = np.stack([shade, shade * rng.uniform(0.6, 1), shade * rng.uniform(0.4, 1)], -1).clip(0, 255)
            imgs.append(img.astype(np.uint8))
            masks.append(m)
            depths.append(d)
        pairs, src_all, tgt_all, offsets = [], [], [], [0]
        for s in range(views):
            for t in range(views):
                if s == t:
                    continue
                ys, xs = np.nonzero(masks[s])
                pick = rng.choice(len(xs), size=min(len(xs), 40 + 10 * s), replace=False)
                src = np.stack([xs[pick] + 0.5, ys[pick] + 0.5], -1)
                X = np.concatenate([src, depths[s][ys[pick], xs[pick]][:, None] * size / 2, np.ones((len(pick), 1))], 1)
                P = np.concatenate(
                    [
                        np.eye(2) + 0.1 * rng.standard_normal((2, 2)),
                        rng.standard_normal((2, 1)),
                        rng.standard_normal((2, 1)),
                    ],
                    1,
                )
                pairs.append((s, t))
                src_all.append(src)
                tgt_all.append(X @ P.T)
                offsets.append(offsets[-1] + len(pick))
        object_id = f"obj-{i:02d}"
        write_object(
            root,
            ObjectRecord(
                object_id=object_id,
                images=np.stack(imgs),
                masks=np.stack(masks),
                pairs=np.array(pairs),
                pair_offsets=np.array(offsets),
                uv_src=np.concatenate(src_all),
                uv_tgt=np.concatenate(tgt_all),
                depth=np.stack(depths) if depth else None,
            ),
        )
        entries[object_id] = {"split": splits[i], "views": [[0.0, 0.0]] * views}
    write_manifest(root, {"objects": entries, "resolution": size})
    return root


class TestCorrSubset:
    def test_fixed_seeded_and_distinct_per_pair(self):
        a = corr_subset(100, 10, seed=3, object_id="x", pair=2)
        np.testing.assert_array_equal(a, corr_subset(100, 10, seed=3, object_id="x", pair=2))
        assert len(np.unique(a)) == 10 and a.max() < 100
        assert not np.array_equal(a, corr_subset(100, 10, seed=3, object_id="x", pair=3))
        assert not np.array_equal(a, corr_subset(100, 10, seed=4, object_id="x", pair=2))

    def test_all_when_k_zero_or_too_large(self):
        np.testing.assert_array_equal(corr_subset(7, 0, 0, "x", 0), np.arange(7))
        np.testing.assert_array_equal(corr_subset(7, 50, 0, "x", 0), np.arange(7))


class TestPairData:
    def test_items_match_the_record_and_subset(self, tmp_path):
        root = make_dataset(tmp_path / "ds")
        ds = Dataset.open(root)
        data = PairData([ds], "train", input_size=32, corr_per_pair=12, seed=5)
        rec = ds.read("obj-02")
        assert len(data) == 4 * 6  # 4 train objects x 6 ordered pairs
        item = data[0]
        src, tgt = rec.correspondences(0)
        idx = corr_subset(len(src), 12, 5, "obj-02", 0)
        np.testing.assert_array_equal(item["src"].numpy(), src[idx])
        np.testing.assert_array_equal(item["tgt"].numpy(), tgt[idx])
        np.testing.assert_array_equal(item["image"].permute(1, 2, 0).numpy(), rec.images[rec.pairs[0, 0]])
        np.testing.assert_array_equal(item["depth"].numpy(), rec.depth[rec.pairs[0, 0]])

    def test_resize_scales_uv_and_keeps_depth_samples(self, tmp_path):
        ds = Dataset.open(make_dataset(tmp_path / "ds", size=64))
        rec = ds.read("obj-02")
        data = PairData([ds], "train", input_size=32, cache="off")
        item = data[1]
        np.testing.assert_allclose(item["src"].numpy(), rec.correspondences(1)[0] * 0.5)
        s = rec.pairs[1, 0]
        # nearest pixel centre: output pixel (i, j) takes input pixel (2i + 1, 2j + 1) at exactly half size.
        np.testing.assert_array_equal(item["depth"].numpy(), rec.depth[s][1::2, 1::2])
        assert item["image"].shape == (3, 32, 32)

    def test_mixed_resolutions_is_an_error(self, tmp_path):
        a = Dataset.open(make_dataset(tmp_path / "a", size=32))
        b = Dataset.open(make_dataset(tmp_path / "b", size=64))
        with pytest.raises(PointkitError, match="mixed resolutions"):
            PairData([a, b], "train", input_size=32)

    def test_depth_loss_needs_depth(self, tmp_path):
        ds = Dataset.open(make_dataset(tmp_path / "ds", depth=False))
        with pytest.raises(PointkitError, match="no ground-truth depth"):
            PairData([ds], "train", input_size=32, need_depth=True)

    def test_corrupt_object_file_is_an_error(self, tmp_path):
        root = make_dataset(tmp_path / "ds")
        (root / "objects" / "obj-03.npz").write_bytes(b"not a zip")
        with pytest.raises(PointkitError, match="unreadable object file"):
            PairData([Dataset.open(root)], "train", input_size=32)


def test_collate_pads_with_valid_mask(tmp_path):
    data = PairData([Dataset.open(make_dataset(tmp_path / "ds"))], "train", input_size=32)
    items = [data[0], data[5]]  # pairs from source views 0 and 2: 50 and 70 points
    batch = collate_pairs(items)
    n0, n1 = items[0]["src"].shape[0], items[1]["src"].shape[0]
    assert n0 != n1 and batch["src"].shape == (2, max(n0, n1), 2)
    assert batch["valid"].sum(1).tolist() == [n0, n1]
    torch.testing.assert_close(batch["tgt"][1, :n1], items[1]["tgt"])


def test_epoch_sampler_resumes_mid_epoch_and_shards_across_ranks():
    full = list(EpochSampler(23, 2, seed=1))
    assert len(full) == 22 and len(set(full)) == 22
    s = EpochSampler(23, 2, seed=1)
    s.set_epoch(0, start_batch=3)
    assert list(s) == full[6:]
    ranks = [list(EpochSampler(23, 2, seed=1, rank=r, world=2)) for r in range(2)]
    # Global batch b is ranks' batch b together: the first 4 indices of the shared permutation.
    g = torch.Generator().manual_seed(1 * 1_000_003)
    order = torch.randperm(23, generator=g).tolist()
    assert sorted(ranks[0][:2] + ranks[1][:2]) == sorted(order[:4])
    s.set_epoch(1)
    assert list(s) != full
