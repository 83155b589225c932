"""LiftNet training (``pointkit train``): config, pair data, the loop, resumable checkpoints.

>>> from pointkit.training import TrainConfig, train
>>> summary = train(TrainConfig(datasets=["data/synth"], out="runs/a", steps=1000))  # doctest: +SKIP
"""

from pointkit.training.config import TrainConfig
from pointkit.training.data import PairData, collate_pairs, corr_subset
from pointkit.training.trainer import train

__all__ = ["TrainConfig", "PairData", "collate_pairs", "corr_subset", "train"]
