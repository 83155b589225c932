"""Pair results kept between runs of matching, so that adding photos matches only the new pairs.

A pair's result depends only on its two photos (their bytes, and their masks' where masks come
from a folder) and the matching settings: its RANSAC is seeded by those too (:func:`pair_seed`).
So a result found in the cache is the result a fresh run would find, and a re-run with photos
added or removed gives the dataset a fresh run on the new folder gives.

One ``<key>.npz`` per unordered pair, the key a SHA-256 of the settings (``workers`` left out: it
changes no result) and the two photos' digests in file-name order. A cache entry that cannot be
read is matched again.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from pointkit.io import write_npz_atomic

NO_EFFECT = ("workers",)
"""Settings that change no pair's result (left out of the key)."""

_FIELDS = ("matches", "inliers", "affine_map_inliers", "sigma", "gric_f", "gric_h", "kept", "reason")


def photo_digest(photo: Path, mask: Path | None = None) -> str:
    """Hex SHA-256 of a photo's bytes (and its mask file's, when masks come from a folder)."""
    h = hashlib.sha256(photo.read_bytes())
    if mask is not None:
        h.update(b"mask")
        h.update(mask.read_bytes())
    return h.hexdigest()


def pair_seed(seed: int, digest_a: str, digest_b: str) -> list[int]:
    """The RANSAC seed of a pair: the settings' seed and the two photos' digests (not their place
    in the folder, so a pair's result does not change when other photos come or go)."""
    return [seed, int(digest_a[:16], 16), int(digest_b[:16], 16)]


class PairCache:
    """Results of matched pairs in ``folder`` (created on the first ``put``) for ``settings``."""

    def __init__(self, folder: Path, settings: dict[str, Any]):
        self.folder = Path(folder)
        kept = {k: v for k, v in sorted(settings.items()) if k not in NO_EFFECT}
        self._settings = json.dumps(kept, sort_keys=True).encode()
        self.hits = 0  # results taken from the cache (the summary's pairs_from_cache)

    def key(self, digest_a: str, digest_b: str) -> str:
        return hashlib.sha256(self._settings + digest_a.encode() + digest_b.encode()).hexdigest()

    def get(self, key: str, result_type):
        """The stored result (a ``result_type``, i.e. ``PairResult``) or None."""
        path = self.folder / f"{key}.npz"
        try:
            with np.load(path, allow_pickle=False) as z:
                info = json.loads(bytes(z["info"]).decode())
                result = result_type(**{k: info[k] for k in _FIELDS}, uv_src=z["uv_src"], uv_tgt=z["uv_tgt"])
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            return None
        self.hits += 1
        return result

    def put(self, key: str, result) -> None:
        info = json.dumps({k: getattr(result, k) for k in _FIELDS}).encode()
        write_npz_atomic(
            self.folder / f"{key}.npz", info=np.frombuffer(info, np.uint8), uv_src=result.uv_src, uv_tgt=result.uv_tgt
        )
