"""LiftNet training (``pointkit train``).

``trainer`` (:func:`train` and the ``Trainer`` it runs in each process) uses: ``config`` (the
settings), ``distributed`` (torchrun processes), ``run_folder`` (``--out`` checks, resume identity,
``run.json``), ``sources`` (dataset or ``--synth`` batches; ``data``: dataset view pairs),
``objective`` (the loss of a step, the validation error), ``logs`` (CSV, TensorBoard) and
``checkpoint`` (checkpoint metadata, resumable state).

>>> from pointkit.training import TrainConfig, train
>>> summary = train(TrainConfig(datasets=["data/synth"], out="runs/a", steps=1000))  # doctest: +SKIP
"""

from pointkit.training.config import TrainConfig
from pointkit.training.data import PairData, collate_pairs, corr_subset
from pointkit.training.trainer import train

__all__ = ["TrainConfig", "PairData", "collate_pairs", "corr_subset", "train"]
