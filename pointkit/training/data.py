"""View pairs from pointkit datasets, resized to the network input, as a torch Dataset.

One item is one ordered view pair (source view s, target view t) of one object: the source image,
its mask and (when the dataset has it) its depth, and the pair's correspondences. The network sees
only the source image; the correspondences tie its depth to the target view (paper §3).

The K correspondences of a pair are a fixed subset drawn once from ``(seed, object id, pair)``,
as in the paper, not redrawn per epoch.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pointkit.data.format import Dataset, object_path, read_object, summarize_object
from pointkit.data.resize import resize_views
from pointkit.errors import PointkitError

log = logging.getLogger(__name__)


@dataclass
class _Object:
    """One object resized to the network input: images (V,S,S,3) uint8, masks (V,S,S) bool,
    depth (V,S,S) float32 or None, and per kept pair (source view, uv_src (K,2), uv_tgt (K,2))."""

    images: np.ndarray
    masks: np.ndarray
    depth: np.ndarray | None
    pairs: list[tuple[int, np.ndarray, np.ndarray]]


def open_datasets(paths: list[str]) -> list[Dataset]:
    """Open every dataset folder; an empty one is an error."""
    out = []
    for p in paths:
        ds = Dataset.open(p)
        if not ds.objects:
            raise PointkitError(f"{p}: the dataset has no objects; render or match some first")
        out.append(ds)
    return out


def corr_subset(n: int, k: int, seed: int, object_id: str, pair: int) -> np.ndarray:
    """Indices of the fixed K-subset of a pair's ``n`` correspondences (all when k == 0 or k >= n)."""
    if k <= 0 or k >= n:
        return np.arange(n)
    rng = np.random.default_rng([seed, zlib.crc32(object_id.encode()), pair])
    return np.sort(rng.choice(n, size=k, replace=False))


class PairData(torch.utils.data.Dataset):
    """Ordered view pairs of one split of several datasets (items: see :meth:`__getitem__`).

    Args:
        datasets: opened datasets (one image resolution across all of them).
        split: "train", "val", "test" or "all".
        input_size: network input side S; images of another size are resized, uv scaled.
        corr_per_pair: K (0 keeps all).
        seed: seed of the correspondence subsets.
        need_depth: every object must carry ground-truth depth (the supervised baseline).
        min_corr: pairs with fewer correspondences are left out (the camera needs 4).
        cache: "on" decodes everything into memory now, "off" reads objects per item, "auto" caches
            when the estimate fits in ``cache_gb``.
    """

    def __init__(
        self,
        datasets: list[Dataset],
        split: str,
        input_size: int,
        corr_per_pair: int = 0,
        seed: int = 0,
        need_depth: bool = False,
        min_corr: int = 4,
        cache: str = "auto",
        cache_gb: float = 4.0,
    ):
        self.input_size, self.k, self.seed, self.min_corr = int(input_size), int(corr_per_pair), int(seed), min_corr
        self.objects: list[tuple[Path, str]] = []
        self.index: list[tuple[int, int]] = []  # (object number, kept pair number)
        self.has_depth = True
        sizes: dict[tuple[int, int], str] = {}
        corr_total, views_total = 0, 0
        self._kept: list[list[int]] = []
        for ds in datasets:
            for object_id in ds.split(split):
                path = object_path(ds.root, object_id)
                summary = summarize_object(ds.root, object_id)
                views, H, W = summary.shape
                if H != W:
                    raise PointkitError(
                        f"{path}: images are {W}x{H}; LiftNet trains on square images (re-render or re-match with a square size)"
                    )
                sizes.setdefault((H, W), str(ds.root))
                if len(sizes) > 1:
                    (a, ra), (b, rb) = list(sizes.items())[:2]
                    raise PointkitError(
                        f"mixed resolutions: {ra} has {a[0]}x{a[1]} images, {rb} has {b[0]}x{b[1]}; "
                        "use datasets of one resolution"
                    )
                if need_depth and not summary.has_depth:
                    raise PointkitError(
                        f"{path}: no ground-truth depth (a matched dataset?); --loss depth needs rendered datasets"
                    )
                self.has_depth &= summary.has_depth
                counts = summary.counts
                kept = [p for p, c in enumerate(counts) if c >= min_corr]
                n = len(self.objects)
                self.objects.append((ds.root, object_id))
                self._kept.append(kept)
                self.index.extend((n, j) for j in range(len(kept)))
                corr_total += sum(min(int(counts[p]), self.k) if self.k else int(counts[p]) for p in kept)
                views_total += views
        S = self.input_size
        self.estimated_bytes = views_total * S * S * (3 + 1 + 4 * self.has_depth) + corr_total * 16
        self._cache: list[_Object] | None = None
        if cache == "on" or (cache == "auto" and self.estimated_bytes <= cache_gb * 2**30):
            self._cache = [self._load(i) for i in range(len(self.objects))]
        elif cache == "auto":
            log.warning(
                "dataset needs about %.1f GB decoded; reading objects from disk per item (raise --cache-gb to cache)",
                self.estimated_bytes / 2**30,
            )

    def _load(self, n: int) -> _Object:
        root, object_id = self.objects[n]
        rec = read_object(root, object_id)
        images, masks, depth = resize_views(
            rec.images, rec.masks, rec.depth if self.has_depth else None, self.input_size
        )
        scale = self.input_size / rec.images.shape[2]
        pairs = []
        for p in self._kept[n]:
            src, tgt = rec.correspondences(p)
            idx = corr_subset(len(src), self.k, self.seed, object_id, p)
            pairs.append(
                (
                    int(rec.pairs[p, 0]),
                    np.ascontiguousarray(src[idx] * scale, np.float32),
                    np.ascontiguousarray(tgt[idx] * scale, np.float32),
                )
            )
        return _Object(images, masks, depth, pairs)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        """One pair: ``image`` (3,S,S) uint8, ``mask`` (S,S) bool, ``depth`` (S,S) float32 (zeros
        when the dataset has none), ``src`` / ``tgt`` (n,2) float32 input-pixel coordinates."""
        n, j = self.index[i]
        obj = self._cache[n] if self._cache is not None else self._load(n)
        view, src, tgt = obj.pairs[j]
        S = self.input_size
        depth = obj.depth[view] if obj.depth is not None else np.zeros((S, S), np.float32)
        return {
            "image": torch.from_numpy(obj.images[view]).permute(2, 0, 1),
            "mask": torch.from_numpy(obj.masks[view]),
            "depth": torch.from_numpy(depth),
            "src": torch.from_numpy(src),
            "tgt": torch.from_numpy(tgt),
        }


def collate_pairs(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack items; correspondences are zero-padded to the batch's largest count with ``valid``
    (B, N) marking the real ones. Returns image (B,3,S,S) uint8, mask (B,S,S), depth (B,S,S),
    src / tgt (B,N,2), valid (B,N)."""
    N = max(it["src"].shape[0] for it in items)
    B = len(items)
    src, tgt = torch.zeros(B, N, 2), torch.zeros(B, N, 2)
    valid = torch.zeros(B, N, dtype=torch.bool)
    for b, it in enumerate(items):
        k = it["src"].shape[0]
        src[b, :k], tgt[b, :k], valid[b, :k] = it["src"], it["tgt"], True
    return {
        "image": torch.stack([it["image"] for it in items]),
        "mask": torch.stack([it["mask"] for it in items]),
        "depth": torch.stack([it["depth"] for it in items]),
        "src": src,
        "tgt": tgt,
        "valid": valid,
    }


class EpochSampler(torch.utils.data.Sampler):
    """Seeded shuffle per epoch, this process's share of it, starting at a given batch.

    The order is a function of ``(seed, epoch)`` only, so a resumed run sees exactly the batches
    the uninterrupted run would have seen. Each of ``world`` processes takes every world-th index;
    the tail that does not fill a whole global batch is dropped.
    """

    def __init__(self, n: int, batch_per_rank: int, seed: int, rank: int = 0, world: int = 1):
        self.n, self.bpr, self.seed, self.rank, self.world = n, batch_per_rank, seed, rank, world
        self.epoch, self.start_batch = 0, 0

    @property
    def batches_per_epoch(self) -> int:
        return self.n // (self.bpr * self.world)

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.n, generator=g)[: self.batches_per_epoch * self.bpr * self.world]
        mine = order[self.rank :: self.world]
        return iter(mine[self.start_batch * self.bpr :].tolist())

    def __len__(self) -> int:
        return (self.batches_per_epoch - self.start_batch) * self.bpr
