"""One view pair: putative matches, the affine fundamental matrix and the GRIC decision."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pointkit.match.features import Features
from pointkit.match.geometry import gric, ransac_affine_f, ransac_affine_map
from pointkit.match.settings import MatchSettings


@dataclass
class PairResult:
    """One matched pair. ``uv_src``/``uv_tgt`` (K, 2): kept correspondences, original frames."""

    matches: int
    inliers: int
    affine_map_inliers: int
    sigma: float | None
    gric_f: float | None
    gric_h: float | None
    kept: bool
    reason: str
    uv_src: np.ndarray = field(repr=False)
    uv_tgt: np.ndarray = field(repr=False)


def match_pair(
    fa: Features, fb: Features, settings: MatchSettings, rng: np.random.Generator, matcher=None
) -> PairResult:
    """Match two images' features (with ``matcher``, default ``settings.load_matcher()``), fit the
    affine F, and decide whether the pair is kept.

    Decision, in order: fewer than ``min_matches`` putative matches -> "too few matches";
    fewer than ``min_inliers`` affine-F inliers -> "too few inliers"; GRIC of the best 2D
    affine map <= GRIC of F_A -> "a 2D affine map explains it (GRIC)"; else kept. GRIC uses
    every putative match and sigma = 1.4826 median(|e_F|) over the F_A inliers (floor 0.05 px).
    """
    empty = np.zeros((0, 2))
    m = (matcher if matcher is not None else settings.load_matcher()).match(fa, fb)
    if len(m) < settings.min_matches:
        return PairResult(
            len(m), 0, 0, None, None, None, False, f"too few matches ({len(m)} < {settings.min_matches})", empty, empty
        )
    src, tgt = fa.uv[m[:, 0]], fb.uv[m[:, 1]]
    ws, wt = src * fa.scale, tgt * fb.scale  # the frames the detector saw
    fit = ransac_affine_f(ws, wt, settings.threshold, rng)
    n_in = 0 if fit is None else int(fit.inliers.sum())  # None: fewer than 5 matches (--min-matches < 5)
    if n_in < settings.min_inliers:
        return PairResult(
            len(m), n_in, 0, None, None, None, False, f"too few inliers ({n_in} < {settings.min_inliers})", empty, empty
        )
    hmap = ransac_affine_map(ws, wt, settings.threshold, rng)
    sigma = max(1.4826 * float(np.median(fit.errors[fit.inliers])), 0.05)
    g_f = gric(fit.errors, sigma, manifold_dim=3, num_params=4)
    g_h = gric(hmap.errors, sigma, manifold_dim=2, num_params=6)
    kept = g_f < g_h
    reason = "kept" if kept else "a 2D affine map explains it (GRIC)"
    return PairResult(
        len(m),
        n_in,
        int(hmap.inliers.sum()),
        sigma,
        g_f,
        g_h,
        bool(kept),
        reason,
        src[fit.inliers] if kept else empty,
        tgt[fit.inliers] if kept else empty,
    )
