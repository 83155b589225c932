"""The one timing helper of the benchmarks: wall times after warm-ups (report medians, as ratios)."""

from __future__ import annotations

import statistics
import time
from typing import Callable


def run_times(
    fn: Callable[[], object], runs: int, warmup: int = 3, sync: Callable[[], None] | None = None
) -> list[float]:
    """Seconds of each of ``runs`` calls of ``fn`` after ``warmup`` untimed calls.

    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each clock read so GPU work is counted.
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        if sync:
            sync()
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return times


def median_time(fn: Callable[[], object], runs: int, warmup: int = 3, sync: Callable[[], None] | None = None) -> float:
    """Median seconds of ``fn`` over ``runs`` calls after ``warmup`` untimed ones."""
    return statistics.median(run_times(fn, runs, warmup, sync))
