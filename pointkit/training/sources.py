"""Where a run's batches come from: the view pairs of datasets (``--datasets``) or pairs made on
the fly on the training device from shape banks (``--synth``).

Both yield ``collate_pairs`` batches: image (B,3,S,S) uint8, mask (B,S,S) bool, depth (B,S,S)
float32, src / tgt (B,K,2) float32 pixel coordinates, valid (B,K) bool; B is the pairs per step
of this process (``bpr``, the batch size over the processes).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import torch

from pointkit.engine import EngineAppearance, SynthStream, concat_banks, load_appearance, load_bank
from pointkit.errors import PointkitError
from pointkit.training.config import TrainConfig
from pointkit.training.data import EpochSampler, PairData, collate_pairs, open_datasets
from pointkit.training.distributed import Distributed

log = logging.getLogger(__name__)

SYNTH_EPOCH_BATCHES = 1000
"""Batches per "epoch" of on-the-fly data (it has no natural epoch; epochs pace validation)."""
SYNTH_VAL_BATCHES = 16
"""Fixed validation batches drawn once from the shape bank with a seed of their own."""


@dataclass
class PairSource:
    """Where training and validation batches come from: ``sampler`` has ``set_epoch(epoch,
    start_batch)`` and ``batches_per_epoch``; ``loader`` / ``val_loader`` yield collate_pairs batches."""

    sampler: Any
    loader: Any
    val_loader: Any
    train_pairs: int
    val_pairs: int
    datasets: list = field(default_factory=list)


def open_source(cfg: TrainConfig, input_size: int, bpr: int, dist: Distributed) -> PairSource:
    """The pair source of ``cfg``: ``--synth`` banks when given, else ``--datasets``."""
    return (_synth_source if cfg.synth else _dataset_source)(cfg, input_size, bpr, dist)


def _dataset_source(cfg: TrainConfig, S: int, bpr: int, dist: Distributed) -> PairSource:
    """View pairs of the datasets' train / val splits (PairData through DataLoaders)."""
    datasets = open_datasets(cfg.datasets)
    train_data = PairData(
        datasets,
        "train",
        S,
        cfg.resolved_corr_per_pair(),
        cfg.seed,
        need_depth=cfg.loss != "corr",
        cache=cfg.cache,
        cache_gb=cfg.cache_gb,
    )
    if len(train_data) == 0:
        raise PointkitError(f"no training pairs in the 'train' split of {', '.join(cfg.datasets)}")
    val_data = PairData(
        datasets, "val", S, cfg.resolved_corr_per_pair(), cfg.seed, cache=cfg.cache, cache_gb=cfg.cache_gb
    )
    if len(val_data) == 0:
        log.warning("no 'val' objects: no early stopping, best.safetensors is the last step")
    if len(train_data) < cfg.batch_size:
        raise PointkitError(f"{len(train_data)} training pairs are fewer than --batch-size {cfg.batch_size}")
    cuda = dist.device.type == "cuda"
    workers = cfg.workers if cfg.workers is not None else (4 if cuda else 0)
    sampler = EpochSampler(len(train_data), bpr, cfg.seed, dist.rank, dist.world)
    loader = torch.utils.data.DataLoader(
        train_data,
        batch_size=bpr,
        sampler=sampler,
        collate_fn=collate_pairs,
        num_workers=workers,
        pin_memory=cuda,
        drop_last=True,
        persistent_workers=False,
    )
    val_index = list(range(len(val_data)))
    if 0 < cfg.val_pairs < len(val_data):  # an even, fixed subset: the same pairs at every validation
        val_index = sorted({int(i) for i in torch.linspace(0, len(val_data) - 1, cfg.val_pairs).round()})
    val_loader = torch.utils.data.DataLoader(
        val_data,
        batch_size=bpr,
        sampler=val_index[dist.rank :: dist.world],
        collate_fn=collate_pairs,
        num_workers=workers,
        pin_memory=cuda,
    )
    return PairSource(sampler, loader, val_loader, len(train_data), len(val_index), datasets)


class _SynthBatches:
    """Training batches of a :class:`pointkit.engine.SynthStream`: batch ``b`` of epoch ``e`` is
    drawn with a generator seeded by (seed, epoch, batch, rank), so a resumed run sees exactly the
    batches of the uninterrupted one. Both the sampler and the loader of its PairSource."""

    def __init__(self, stream, batch: int, seed: int, rank: int):
        self.stream, self.batch, self.seed, self.rank = stream, batch, seed, rank
        self.batches_per_epoch, self.epoch, self.start = SYNTH_EPOCH_BATCHES, 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start = epoch, start_batch

    def __iter__(self):
        for b in range(self.start, self.batches_per_epoch):
            key = ((self.seed * 1_000_003 + self.epoch) * 1_000_003 + b) * 64 + self.rank
            yield self.stream.next_batch(self.batch, self.stream.generator(key % 2**63))


def _synth_source(cfg: TrainConfig, S: int, bpr: int, dist: Distributed) -> PairSource:
    """Pairs made on the fly on the training device by pointkit.engine from the shape banks
    ``cfg.synth`` (shapes and appearance assets pooled)."""
    if cfg.loss != "corr":
        log.info("--loss %s on --synth: the engine's exact depth supervises it", cfg.loss)
    bank = concat_banks([load_bank(path, dist.device) for path in cfg.synth])
    appearance = EngineAppearance.concat([load_appearance(path, dist.device) for path in cfg.synth])
    stream = SynthStream(
        bank,
        input_size=S,
        corr_per_pair=cfg.resolved_corr_per_pair(),
        device=dist.device,
        appearance=appearance,
        zoom=cfg.synth_zoom,
        backgrounds=cfg.synth_backgrounds,
    )
    batches = _SynthBatches(stream, bpr, cfg.seed, dist.rank)
    val = [
        stream.next_batch(bpr, stream.generator(cfg.seed + 7919 + 101 * i + dist.rank))
        for i in range(SYNTH_VAL_BATCHES // dist.world)
    ]
    return PairSource(batches, batches, val, SYNTH_EPOCH_BATCHES * cfg.batch_size, len(val) * bpr * dist.world)
