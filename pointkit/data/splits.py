"""The train / val / test rule every dataset writer uses (``render-synthetic``, ``match``).

Each object has a fixed number u in [0, 1) (a hash of its id, so the same object lands in the
same split whatever else is in the job); the fractions cut [0, 1) into consecutive intervals, in
order. A hash alone can leave a small job with no val or no test object (6 objects at 90/5/5
usually have none), and then ``eval --split test`` has nothing to score: so when there are at
least as many objects as splits, every empty split takes the object of the largest split whose u
is nearest its interval. The rule reads the whole object list (not one shard), so shards agree.
"""

from __future__ import annotations

from collections import Counter
from typing import Mapping


def assign_splits(u: Mapping[str, float], fractions: Mapping[str, float]) -> dict[str, str]:
    """Split name of every object from its number ``u[object_id]`` in [0, 1) and the split
    ``fractions`` (ordered, summing to 1); no split is empty when len(u) >= len(fractions)."""
    names = list(fractions)
    edges, total = [], 0.0
    for name in names:
        edges.append((total, total + fractions[name]))
        total += fractions[name]

    def interval_of(x: float) -> str:
        return next((n for n, (lo, hi) in zip(names, edges) if x < hi), names[-1])

    split = {oid: interval_of(x) for oid, x in u.items()}
    if len(u) >= len(names):
        for name, (lo, hi) in zip(names, edges):
            counts = Counter(split.values())
            if counts[name]:
                continue
            donor = max(names, key=lambda n: (counts[n], -names.index(n)))
            nearest = min(
                (oid for oid in split if split[oid] == donor),
                key=lambda oid: (min(abs(u[oid] - lo), abs(u[oid] - hi)), oid),
            )
            split[nearest] = name
    return split
