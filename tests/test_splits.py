"""The one split rule of every dataset writer (pointkit.data.splits)."""

from __future__ import annotations

import numpy as np

from pointkit.data.splits import assign_splits
from pointkit.match.pipeline import cluster_splits, split_of as cluster_split
from pointkit.render.dataset import job_splits, split_of

FRACTIONS = {"train": 0.9, "val": 0.05, "test": 0.05}


def test_large_jobs_follow_the_hash_intervals_exactly():
    rng = np.random.default_rng(0)
    u = {f"o{i}": float(x) for i, x in enumerate(rng.random(2000))}
    split = assign_splits(u, FRACTIONS)
    expected = {k: "train" if x < 0.9 else ("val" if x < 0.95 else "test") for k, x in u.items()}
    assert split == expected
    ids = [f"sculpture-{i:06d}" for i in range(400)]
    assert job_splits(ids, 0) == {i: split_of(i, 0) for i in ids}  # render: same as per object
    names = [f"cluster{i}" for i in range(400)]
    assert cluster_splits(names) == {c: cluster_split(c) for c in names}  # match: likewise


def test_small_jobs_get_every_split_and_only_as_many_moves_as_needed():
    for n in range(3, 12):
        for seed in range(20):
            ids = [f"obj{i}" for i in range(n)]
            split = job_splits(ids, seed)
            counts = {s: list(split.values()).count(s) for s in FRACTIONS}
            assert all(counts[s] >= 1 for s in FRACTIONS), (n, seed, counts)
            by_hash = {i: split_of(i, seed) for i in ids}
            moved = sum(split[i] != by_hash[i] for i in ids)
            assert moved == sum(1 for s in FRACTIONS if s not in by_hash.values())
    two = job_splits(["a", "b"], 0)  # fewer objects than splits
    assert two == {i: split_of(i, 0) for i in ("a", "b")}


def test_the_rule_depends_on_the_object_set_not_its_order():
    ids = [f"obj{i}" for i in range(7)]
    assert job_splits(ids, 3) == job_splits(list(reversed(ids)), 3)
