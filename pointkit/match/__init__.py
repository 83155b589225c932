"""Correspondences from real photo collections (``pointkit match``). See docs/matching.md.

features  SIFT keypoints, mutual-nearest-neighbour + ratio matching, GrabCut auto masks
geometry  affine fundamental matrix (seeded RANSAC + Gold Standard), 2D affine maps, Torr's GRIC
pipeline  folder of clusters -> dataset (``build_matched_dataset``)
"""

from pointkit.match.pipeline import MatchSettings, PairResult, build_matched_dataset, match_pair

__all__ = ["MatchSettings", "PairResult", "build_matched_dataset", "match_pair"]
