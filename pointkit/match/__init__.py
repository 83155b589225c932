"""Correspondences from real photo collections (``pointkit match``). See docs/matching.md.

features  SIFT keypoints, mutual-nearest-neighbour + ratio matching, GrabCut auto masks
geometry  affine fundamental matrix (seeded RANSAC + Gold Standard), 2D affine maps, Torr's GRIC
settings  ``MatchSettings`` (the command's options) and ``MatchJob``
pairs     one view pair: matches, affine F, the GRIC decision (``match_pair``)
pair_cache  pair results kept between runs (adding photos matches only their pairs)
pipeline  folder of clusters -> dataset (``build_matched_dataset``)
"""

from pointkit.match.pairs import PairResult, match_pair
from pointkit.match.pipeline import build_matched_dataset
from pointkit.match.settings import MatchSettings

__all__ = ["MatchSettings", "PairResult", "build_matched_dataset", "match_pair"]
