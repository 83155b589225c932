"""The training loop behind ``pointkit train`` (paper §3 and §5; single process or torchrun DDP).

A run folder holds::

    run.json                 resolved config, pointkit/torch versions, the dataset manifests used
    state.json + state-<step>.safetensors   resumable state (see pointkit.training.checkpoint)
    last.safetensors         LiftNet checkpoint of the latest checkpoint step
    best.safetensors         LiftNet checkpoint with the lowest validation correspondence error
    step-NNNNNN.safetensors  with --keep-every N: the model at every N-th step, kept
    train.csv, val.csv       logs (also TensorBoard events in tb/)
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import platform
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pointkit.errors import PointkitError
from pointkit.jobs.settings import save as save_config
from pointkit.models.device import resolve_device
from pointkit.io import write_json_atomic
from pointkit.models import to_network_input
from pointkit.training.checkpoint import STATE_JSON, load_state, save_state
from pointkit.training.config import RESUMABLE_CHANGES, TrainConfig
from pointkit.training.data import EpochSampler, PairData, collate_pairs, open_datasets

log = logging.getLogger(__name__)

TRAIN_FIELDS = [
    "step",
    "epoch",
    "loss",
    "corr_loss",
    "depth_loss",
    "mask_loss",
    "center_loss",
    "corr_error_px",
    "lr",
    "images_per_s",
]
VAL_FIELDS = ["step", "epoch", "val_corr_error_px", "val_loss", "best"]


def network_input(
    model,
    batch: dict[str, torch.Tensor],
    channels_last: bool,
    prior_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The input of ``model`` (a LiftNet, possibly DDP-wrapped) for a batch: RGB, plus the
    silhouette prior of the batch's masks when the model takes one. Each sample's prior is zeroed
    with probability ``prior_dropout`` (drawn from the CPU ``generator``), so the same network
    also learns depth and mask from RGB alone (lift's first pass has no mask yet)."""
    from pointkit.masks import silhouette_prior_batch

    prior = None
    if getattr(model, "module", model).config.prior == "silhouette":
        prior = silhouette_prior_batch(batch["mask"])
        if prior_dropout > 0:
            keep = torch.rand(prior.shape[0], generator=generator) >= prior_dropout
            prior = prior * keep.to(prior.device, prior.dtype)[:, None, None, None]
    return to_network_input(batch["image"], channels_last, prior)


def step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """RANSAC sampling generator of one step: a function of (seed, step, rank), so resume is exact."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step) * 64 + rank)


class _Distributed:
    """torchrun environment (RANK / WORLD_SIZE / LOCAL_RANK); world 1 without torchrun."""

    def __init__(self, device_name: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        device = resolve_device(device_name)
        if device.type == "cuda" and self.world > 1:
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        self.device = device
        if self.world > 1 and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def sum(self, values: list[float]) -> list[float]:
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.world > 1:
            torch.distributed.all_reduce(t)
        return t.tolist()

    def close(self) -> None:
        if self.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def _model_config(cfg: TrainConfig, init_config=None):
    from pointkit.models import LiftNetConfig

    base = init_config if init_config is not None else LiftNetConfig()
    chosen = {
        "input_size": cfg.input_size,
        "ngf": cfg.ngf,
        "mask_head": cfg.mask_head,
        "dropout": cfg.dropout,
        "prior": cfg.prior,
    }
    if init_config is not None:
        clash = [
            f"{k}={v} (checkpoint: {getattr(base, k)})"
            for k, v in chosen.items()
            if v is not None and v != getattr(base, k)
        ]
        if clash:
            raise PointkitError(f"{cfg.init}: --init fixes the architecture; drop {', '.join(clash)}")
    return LiftNetConfig(**{k: (v if v is not None else getattr(base, k)) for k, v in chosen.items()})


INPUT_PATHS = ("datasets", "synth", "init")
"""Config entries that name inputs: on resume they match by identity, not spelling. ("out", the
run folder itself, may move or be spelled otherwise freely.)"""


def _identity(path: str) -> str:
    """What a training input is, whatever its spelling or place: a dataset folder's manifest bytes
    or a file's bytes (sha256); the resolved path when it cannot be read."""
    import hashlib

    p = Path(path)
    target = p / "manifest.json" if p.is_dir() else p
    try:
        return hashlib.sha256(target.read_bytes()).hexdigest()
    except OSError:
        return str(p.resolve())


def _as_list(value) -> list[str]:
    return [] if value is None else ([value] if isinstance(value, str) else list(value))


def input_identities(cfg: TrainConfig) -> dict[str, list[str]]:
    """``_identity`` of every input of INPUT_PATHS (saved in run.json to recognise them on resume)."""
    return {k: [_identity(x) for x in _as_list(getattr(cfg, k))] for k in INPUT_PATHS}


def _same_inputs(old, new, saved_ids: list[str] | None) -> bool:
    """Whether the config values ``old`` (saved) and ``new`` of an INPUT_PATHS entry name the same
    inputs: equal, the same resolved paths, or the same content as recorded at the start of the run
    (``saved_ids``; a moved or re-spelled dataset, bank or checkpoint)."""
    if old == new:
        return True
    a, b = _as_list(old), _as_list(new)
    if len(a) != len(b):
        return False
    ids = saved_ids if saved_ids is not None and len(saved_ids) == len(a) else [_identity(x) for x in a]
    return all(x == y or Path(x).resolve() == Path(y).resolve() or i == _identity(y) for x, y, i in zip(a, b, ids))


def _check_run_folder(run: Path, cfg: TrainConfig) -> dict | None:
    """The saved run.json of ``run`` when resuming it; error when it holds another run."""
    saved_path = run / "run.json"
    if not saved_path.exists():
        if run.exists() and any(run.iterdir()) and not cfg.resume:
            raise PointkitError(f"{run}: folder is not empty and holds no pointkit run; choose a new --out")
        return None
    if not cfg.resume:
        raise PointkitError(f"{run} holds another run; use --resume to continue it or choose a new --out")
    try:
        saved = json.loads(saved_path.read_text())
        old = saved["config"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise PointkitError(
            f"{saved_path}: unreadable run record ({exc}); start a new run with another --out"
        ) from None
    new = json.loads(json.dumps(cfg.to_dict()))  # as saved: tuples become lists
    changed = [k for k in new if k not in RESUMABLE_CHANGES + INPUT_PATHS + ("out",) and k in old and old[k] != new[k]]
    saved_ids = saved.get("input_ids", {})
    changed += [k for k in INPUT_PATHS if k in old and not _same_inputs(old[k], new[k], saved_ids.get(k))]
    if changed:
        raise PointkitError(f"{run}: --resume with other settings ({', '.join(changed)}); use the original options")
    return saved


def _log_row_ok(row: dict[str, Any], fields) -> bool:
    """A CSV log row as ``_Logs`` writes it: exactly the fields, an integer step, numbers or blanks."""
    if None in row or any(row.get(f) is None for f in fields):
        return False
    try:
        int(row["step"])
        [float(row[f]) for f in fields if row[f] != ""]
    except ValueError:
        return False
    return True


class _Logs:
    """CSV files (rewritten up to the resumed step) and TensorBoard, on the main process only."""

    def __init__(self, run: Path, start_step: int, enabled: bool):
        self.enabled, self.files, self.tb = enabled, {}, None
        if not enabled:
            return
        for name, fields in (("train", TRAIN_FIELDS), ("val", VAL_FIELDS)):
            path = run / f"{name}.csv"
            rows = []
            if path.exists():
                with open(path, newline="") as fh:
                    read = list(csv.DictReader(fh))
                rows = [r for r in read if _log_row_ok(r, fields) and int(r["step"]) <= start_step]
                junk = sum(not _log_row_ok(r, fields) for r in read)
                if junk:
                    log.warning("%s: dropped %d unreadable row(s) while resuming", path, junk)
            fh = open(path, "w", newline="")
            writer = csv.DictWriter(fh, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
            fh.flush()
            self.files[name] = (fh, writer)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"), purge_step=start_step + 1 if start_step else None)
        except ImportError:
            log.warning("tensorboard is not installed: CSV logs only (pip install 'pointkit[train]')")

    def write(self, name: str, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        fh, writer = self.files[name]
        writer.writerow(row)
        fh.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch", "best") and v is not None and v != "":
                    self.tb.add_scalar(f"{name}/{k}", float(v), int(row["step"]))

    def close(self) -> None:
        for fh, _ in self.files.values():
            fh.close()
        if self.tb is not None:
            self.tb.close()


def _run_corr_loss(
    cfg: TrainConfig, depth: torch.Tensor, batch: dict[str, torch.Tensor], tau: float | None, generator: torch.Generator
):
    """The correspondence loss of a batch under the run's RANSAC settings: ``(loss, stats)``
    (training and validation score pairs the same way; only the RANSAC generator differs)."""
    from pointkit.losses import correspondence_loss

    return correspondence_loss(depth, batch["src"], batch["tgt"], batch["valid"], tau=tau, ransac=cfg.ransac,
                               threshold=cfg.ransac_threshold(depth.shape[-1]), hypotheses=cfg.hypotheses,
                               generator=generator, return_stats=True)  # fmt: skip


def compute_loss(
    model,
    batch: dict[str, torch.Tensor],
    cfg: TrainConfig,
    tau: float | None,
    step: int,
    rank: int,
    device: torch.device,
    autocast,
    channels_last: bool,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training objective of one batch (already on ``device``).

    ``corr``: :func:`pointkit.losses.correspondence_loss` of the predicted source depth;
    ``depth``: :func:`pointkit.losses.aligned_depth_loss` against ground truth on the mask;
    ``ssi``: :func:`pointkit.losses.scale_shift_invariant_loss` against ground truth on the mask;
    ``corr+ssi``: the first plus ``ssi_weight`` x the third. Plus, with a mask head,
    ``mask_weight`` x BCE of the mask logits against the dataset mask; with ``center_weight``, that
    weight x the squared mean depth over the mask (fixes the free offset).
    Returns the loss and float statistics (corr_error_px is the mean reprojection error;
    depth_loss is the ground-truth term, unweighted).
    """
    from pointkit.losses import aligned_depth_loss, scale_shift_invariant_loss

    x = network_input(
        model,
        batch,
        channels_last,
        cfg.prior_dropout,
        step_generator(cfg.seed + 104729, step, rank, torch.device("cpu")),
    )
    with autocast:
        out = model(x)
    depth = out[:, :1].float()
    stats: dict[str, float] = {}
    loss = depth.new_zeros(())
    if cfg.loss in ("corr", "corr+ssi"):
        corr, cs = _run_corr_loss(cfg, depth, batch, tau, step_generator(cfg.seed, step, rank, device))
        keep = ~cs.degenerate
        stats["corr_error_px"] = float(cs.mean_error[keep].mean()) if keep.any() else float("nan")
        stats["corr_loss"] = float(corr.detach())
        loss = loss + corr
    if cfg.loss != "corr":
        gt, mask = batch["depth"][:, None], batch["mask"][:, None]
        supervised = aligned_depth_loss if cfg.loss == "depth" else scale_shift_invariant_loss
        term = supervised(depth, gt, mask)
        stats["depth_loss"] = float(term.detach())
        loss = loss + (cfg.ssi_weight if cfg.loss == "corr+ssi" else 1.0) * term
    if out.shape[1] > 1 and cfg.mask_weight > 0:
        mask_loss = F.binary_cross_entropy_with_logits(out[:, 1].float(), batch["mask"].float())
        stats["mask_loss"] = float(mask_loss.detach())
        loss = loss + cfg.mask_weight * mask_loss
    if cfg.center_weight > 0:
        m = batch["mask"].float()
        mean_depth = (depth[:, 0] * m).sum((1, 2)) / m.sum((1, 2)).clamp_min(1)
        center_loss = (mean_depth**2).mean()
        stats["center_loss"] = float(center_loss.detach())
        loss = loss + cfg.center_weight * center_loss
    return loss, stats


@torch.no_grad()
def validation_error(
    model,
    loader,
    cfg: TrainConfig,
    tau: float | None,
    device: torch.device,
    dist: _Distributed,
    channels_last: bool,
    autocast,
) -> tuple[float, float]:
    """Mean validation correspondence error (px, mean over non-degenerate pairs of each pair's mean
    reprojection error through its RANSAC camera) and mean correspondence loss, over all processes.
    RANSAC samples come from a fixed generator, so the number is comparable across steps."""
    was_training = model.training
    model.eval()
    err_sum, loss_sum, n = 0.0, 0.0, 0.0
    for i, batch in enumerate(loader):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        with autocast:
            depth = model(network_input(model, batch, channels_last))[:, :1].float()
        g = step_generator(cfg.seed + 7919, i, dist.rank, device)
        loss, cs = _run_corr_loss(cfg, depth, batch, tau, g)
        keep = ~cs.degenerate
        err_sum += float(cs.mean_error[keep].sum())
        loss_sum += float(loss) * float(keep.sum())
        n += float(keep.sum())
    model.train(was_training)
    err_sum, loss_sum, n = dist.sum([err_sum, loss_sum, n])
    return (err_sum / n, loss_sum / n) if n else (float("nan"), float("nan"))


def _checkpoint_metadata(cfg: TrainConfig, model_cfg, step: int, val_error: float | None, datasets) -> dict[str, Any]:
    from pointkit import __version__

    return {
        "trained_with": cfg.loss,
        "ssi_weight": cfg.ssi_weight if cfg.loss == "corr+ssi" else None,
        "input_size": model_cfg.input_size,
        "mask_head": model_cfg.mask_head,
        # lift's auto mask uses the head only when this run trained it: an untrained head, or one
        # left behind while a fine-tune moved the shared trunk, gives plausible-looking blobs.
        "mask_head_trusted": bool(model_cfg.mask_head and cfg.mask_weight > 0),
        "mask_weight": cfg.mask_weight,
        "prior": model_cfg.prior,
        "prior_dropout": cfg.prior_dropout,
        "step": step,
        "val_corr_error_px": val_error,
        "robust": cfg.robust,
        "ransac": cfg.ransac,
        "center_weight": cfg.center_weight,
        "corr_per_pair": cfg.corr_per_pair,
        "datasets": [str(d.root) for d in datasets],
        "synth": cfg.synth,
        "pointkit_version": __version__,
        "depth_convention": "up to d -> a*d + b*u + c*v + e (tanh output)",
    }


@dataclass
class _PairSource:
    """Where training and validation batches come from: ``sampler`` has ``set_epoch(epoch,
    start_batch)`` and ``batches_per_epoch``; ``loader`` / ``val_loader`` yield collate_pairs batches."""

    sampler: Any
    loader: Any
    val_loader: Any
    train_pairs: int
    val_pairs: int
    datasets: list = field(default_factory=list)


def _dataset_source(cfg: TrainConfig, S: int, bpr: int, dist: _Distributed) -> _PairSource:
    """View pairs of the datasets' train / val splits (PairData through DataLoaders)."""
    datasets = open_datasets(cfg.datasets)
    train_data = PairData(
        datasets,
        "train",
        S,
        cfg.corr_per_pair,
        cfg.seed,
        need_depth=cfg.loss != "corr",
        cache=cfg.cache,
        cache_gb=cfg.cache_gb,
    )
    if len(train_data) == 0:
        raise PointkitError(f"no training pairs in the 'train' split of {', '.join(cfg.datasets)}")
    val_data = PairData(datasets, "val", S, cfg.corr_per_pair, cfg.seed, cache=cfg.cache, cache_gb=cfg.cache_gb)
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
    return _PairSource(sampler, loader, val_loader, len(train_data), len(val_index), datasets)


SYNTH_EPOCH_BATCHES = 1000
"""Batches per "epoch" of on-the-fly data (it has no natural epoch; epochs pace validation)."""
SYNTH_VAL_BATCHES = 16
"""Fixed validation batches drawn once from the shape bank with a seed of their own."""


class _SynthBatches:
    """Training batches of a :class:`pointkit.engine.SynthStream`: batch ``b`` of epoch ``e`` is
    drawn with a generator seeded by (seed, epoch, batch, rank), so a resumed run sees exactly the
    batches of the uninterrupted one."""

    def __init__(self, stream, batch: int, seed: int, rank: int):
        self.stream, self.batch, self.seed, self.rank = stream, batch, seed, rank
        self.batches_per_epoch, self.epoch, self.start = SYNTH_EPOCH_BATCHES, 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start = epoch, start_batch

    def __iter__(self):
        for b in range(self.start, self.batches_per_epoch):
            key = ((self.seed * 1_000_003 + self.epoch) * 1_000_003 + b) * 64 + self.rank
            yield self.stream.next_batch(self.batch, self.stream.generator(key % 2**63))


def _synth_source(cfg: TrainConfig, S: int, bpr: int, dist: _Distributed) -> _PairSource:
    """Pairs made on the fly on the training device by pointkit.engine from the shape banks
    ``cfg.synth`` (shapes and appearance assets pooled)."""
    from pointkit.engine import EngineAppearance, SynthStream, concat_banks, load_appearance, load_bank

    if cfg.loss != "corr":
        log.info("--loss %s on --synth: the engine's exact depth supervises it", cfg.loss)
    bank = concat_banks([load_bank(path, dist.device) for path in cfg.synth])
    appearance = EngineAppearance.concat([load_appearance(path, dist.device) for path in cfg.synth])
    stream = SynthStream(
        bank,
        input_size=S,
        corr_per_pair=cfg.corr_per_pair or 200,
        device=dist.device,
        appearance=appearance,
        zoom=cfg.synth_zoom,
    )
    batches = _SynthBatches(stream, bpr, cfg.seed, dist.rank)
    val = [
        stream.next_batch(bpr, stream.generator(cfg.seed + 7919 + 101 * i + dist.rank))
        for i in range(SYNTH_VAL_BATCHES // dist.world)
    ]
    return _PairSource(batches, batches, val, SYNTH_EPOCH_BATCHES * cfg.batch_size, len(val) * bpr * dist.world)


def _optimizer_step(
    net,
    model,
    optimizer,
    batch: dict[str, torch.Tensor],
    cfg: TrainConfig,
    tau: float | None,
    step: int,
    rank: int,
    device: torch.device,
    autocast,
    channels_last: bool,
) -> tuple[float, dict]:
    """One optimiser step on ``batch`` (``compute_loss``, backward, gradient clamp); returns the
    loss value and the loss terms. Raises PointkitError when the loss is not finite."""
    loss, stats = compute_loss(net, batch, cfg, tau, step, rank, device, autocast, channels_last)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.grad_clamp > 0:
        torch.nn.utils.clip_grad_value_(model.parameters(), cfg.grad_clamp)
    optimizer.step()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise PointkitError(f"loss became {value} at step {step + 1}; lower --lr or check the dataset")
    return value, stats


def _optimizer(cfg: TrainConfig, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return torch.optim.AdamW(model.parameters(), lr=lr)


def _write_run_record(
    run: Path, cfg: TrainConfig, model_cfg, resolved: dict[str, Any], data: _PairSource, device: torch.device
) -> None:
    """``run.json``: the resolved config, versions, host, dataset manifests, input identities."""
    from pointkit import __version__

    run.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run, "train")
    write_json_atomic(
        run / "run.json",
        {
            "config": cfg.to_dict(),
            "model": {
                "input_size": model_cfg.input_size,
                "ngf": model_cfg.ngf,
                "mask_head": model_cfg.mask_head,
                "dropout": model_cfg.dropout,
                "prior": model_cfg.prior,
            },
            "resolved": {**resolved, "train_pairs": data.train_pairs, "val_pairs": data.val_pairs},
            "pointkit_version": __version__,
            "torch_version": torch.__version__,
            "host": {
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
                "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            },
            "datasets": [{"root": str(d.root), "manifests": d.manifests} for d in data.datasets],
            "synth": cfg.synth,
            "input_ids": input_identities(cfg),
        },
    )


class _Checkpointer:
    """Validation, early-stopping record and checkpoints of one run (``info`` is the record
    ``save_state`` keeps: step, epoch, best_val, best_step, bad_validations, stopped_early)."""

    def __init__(
        self,
        run: Path,
        cfg: TrainConfig,
        model,
        optimizer,
        info: dict[str, Any],
        data: _PairSource,
        logs: _Logs,
        dist: _Distributed,
        evaluate,
        metadata,
    ):
        self.run, self.cfg, self.model, self.optimizer, self.info = run, cfg, model, optimizer, info
        self.data, self.logs, self.dist, self.evaluate, self.metadata = data, logs, dist, evaluate, metadata

    def __call__(self, step: int, epoch: int, validate: bool) -> None:
        info, run, main = self.info, self.run, self.dist.main
        if validate and self.data.val_pairs:
            err, vloss = self.evaluate()
            better = info["best_val"] is None or err < info["best_val"]
            if better:
                info.update(best_val=err, best_step=step, bad_validations=0)
                if main:
                    self.model.save(run / "best.safetensors", self.metadata(step, err))
            else:
                info["bad_validations"] += 1
            self.logs.write(
                "val", {"step": step, "epoch": epoch, "val_corr_error_px": err, "val_loss": vloss, "best": int(better)}
            )
            if self.cfg.patience and info["bad_validations"] >= self.cfg.patience:
                info["stopped_early"] = True
        if main:
            self.model.save(run / "last.safetensors", self.metadata(step, info["best_val"]))
            if not self.data.val_pairs:
                self.model.save(run / "best.safetensors", self.metadata(step, None))
            save_state(
                run, self.model, self.optimizer, {**info, "step": step, "epoch": epoch, "config": self.cfg.to_dict()}
            )
        self.dist.barrier()

    def keep(self, step: int) -> None:
        """The model at ``step`` as RUN/step-NNNNNN.safetensors (``--keep-every``), kept for good."""
        if self.dist.main:
            self.model.save(self.run / f"step-{step:06d}.safetensors", self.metadata(step, self.info["best_val"]))


@dataclass
class _Session:
    """What one process trains with (made by :func:`_start`, run by :func:`_loop`)."""

    run: Path
    model: torch.nn.Module
    net: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    data: _PairSource
    info: dict[str, Any]  # the checkpointer's record: step, epoch, best_val ...
    tau: float | None
    autocast: Any
    channels_last: bool
    device: torch.device
    bpr: int  # pairs per step in this process
    logs: _Logs
    checkpoint: _Checkpointer
    total: int  # steps of the whole run
    per_epoch: int


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train LiftNet as ``cfg`` says; returns a summary (steps, best validation error, paths).

    Under torchrun every process calls this; gradients are averaged by DistributedDataParallel,
    only process 0 writes files.

    Raises:
        PointkitError: empty/corrupt datasets, mixed resolutions, a checkpoint of another
            architecture, cuda requested but absent, an output folder holding another run.
    """
    dist = _Distributed(cfg.device)
    try:
        session = _start(cfg, dist)
        step = _loop(cfg, session, dist)
        session.logs.close()
        info, data, run = session.info, session.data, session.run
        summary = {
            "run": str(run),
            "steps": step,
            "epochs": round(step / session.per_epoch, 3),
            "best_val_corr_error_px": info["best_val"],
            "best_step": info["best_step"],
            "stopped_early": info["stopped_early"],
            "best": str(run / "best.safetensors"),
            "last": str(run / "last.safetensors"),
            "train_pairs": data.train_pairs,
            "val_pairs": data.val_pairs,
            "world_size": dist.world,
        }
        if dist.main:
            write_json_atomic(run / "summary.json", summary)
        return summary
    finally:
        dist.close()


def _model_and_data(cfg: TrainConfig, dist: _Distributed):
    """``(model, model_cfg, data, bpr)``: the LiftNet on the device (seeded; ``--init``'s weights),
    its config, the pair source and the pairs per step of this process."""
    from pointkit.models import LiftNet, load_checkpoint

    init_model = load_checkpoint(cfg.init)[0] if cfg.init else None
    model_cfg = _model_config(cfg, init_model.config if init_model is not None else None)
    if cfg.batch_size % dist.world:
        raise PointkitError(f"--batch-size {cfg.batch_size} must be divisible by the {dist.world} processes")
    S, bpr = model_cfg.input_size, cfg.batch_size // dist.world
    data = _synth_source(cfg, S, bpr, dist) if cfg.synth else _dataset_source(cfg, S, bpr, dist)
    torch.manual_seed(cfg.seed)
    model = LiftNet(model_cfg)
    if init_model is not None:
        model.load_state_dict(init_model.state_dict())
    layout = torch.channels_last if dist.device.type == "cuda" else torch.contiguous_format
    return model.to(dist.device, memory_format=layout), model_cfg, data, bpr


def _start(cfg: TrainConfig, dist: _Distributed) -> _Session:
    """The run folder checked (or resumed), data, model, optimiser, logs and checkpointer of a run."""
    run, device = Path(cfg.out), dist.device
    saved = _check_run_folder(run, cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    model, model_cfg, data, bpr = _model_and_data(cfg, dist)
    cuda = channels_last = device.type == "cuda"
    amp = cfg.amp == "bf16" or (cfg.amp == "auto" and cuda)
    lr, tau = cfg.resolved_lr(), cfg.resolved_tau(model_cfg.input_size)
    optimizer = _optimizer(cfg, model, lr)
    info = {"step": 0, "epoch": 0, "best_val": None, "best_step": None, "bad_validations": 0, "stopped_early": False}
    if saved is not None and (run / STATE_JSON).exists():
        info = {**info, **{k: v for k, v in load_state(run, model, optimizer, device).items() if k in info}}
        if dist.main:
            save_config(cfg, run, "train")  # the settings this part of the run uses (--steps ...)
    elif dist.main:
        resolved = {"lr": lr, "tau": tau, "amp": amp, "device": str(device), "world_size": dist.world}
        _write_run_record(run, cfg, model_cfg, resolved, data, device)
    dist.barrier()
    ddp = torch.nn.parallel.DistributedDataParallel
    net = model if dist.world == 1 else ddp(model, device_ids=[device.index] if cuda else None)
    per_epoch = data.sampler.batches_per_epoch
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if amp else nullcontext()
    logs = _Logs(run, info["step"], dist.main)
    checkpoint = _Checkpointer(
        run, cfg, model, optimizer, info, data, logs, dist,
        evaluate=lambda: validation_error(model, data.val_loader, cfg, tau, device, dist, channels_last, autocast),
        metadata=lambda step, err: _checkpoint_metadata(cfg, model_cfg, step, err, data.datasets),
    )  # fmt: skip
    total = cfg.steps if cfg.steps is not None else cfg.epochs * per_epoch
    return _Session(run, model, net, optimizer, data, info, tau, autocast, channels_last, device, bpr, logs,
                    checkpoint, total, per_epoch)  # fmt: skip


def _loop(cfg: TrainConfig, s: _Session, dist: _Distributed) -> int:
    """Optimiser steps from the session's step to its total (or early stopping), with logs,
    validations and checkpoints; returns the last step."""
    from tqdm import tqdm

    step, val_every = s.info["step"], cfg.val_every or s.per_epoch
    if step == 0:
        s.checkpoint(0, 0, validate=True)  # the "before" number (fine-tuning) and step 0 state
    bar = tqdm(
        total=s.total,
        initial=step,
        desc="train",
        unit="step",
        disable=not (cfg.progress and dist.main),
        dynamic_ncols=True,
    )
    s.net.train()
    t0, images_since = time.perf_counter(), 0
    while step < s.total and not s.info["stopped_early"]:
        epoch, start_batch = divmod(step, s.per_epoch)
        s.data.sampler.set_epoch(epoch, start_batch)
        for batch in s.data.loader:
            batch = {k: v.to(s.device, non_blocking=True) for k, v in batch.items()}
            loss_value, stats = _optimizer_step(
                s.net, s.model, s.optimizer, batch, cfg, s.tau, step, dist.rank, s.device, s.autocast, s.channels_last
            )
            step += 1
            images_since += s.bpr * dist.world
            elapsed = time.perf_counter() - t0
            row = {
                "step": step,
                "epoch": epoch,
                "loss": loss_value,
                "lr": s.optimizer.param_groups[0]["lr"],
                "images_per_s": images_since / elapsed if elapsed > 0 else "",
                **stats,
            }
            s.logs.write("train", {k: row.get(k, "") for k in TRAIN_FIELDS})
            bar.set_postfix(loss=f"{loss_value:.4g}", img_s=f"{row['images_per_s']:.1f}" if elapsed > 0 else "")
            bar.update(1)
            validate = step % val_every == 0 or step == s.total
            if validate or step % cfg.checkpoint_every == 0:
                s.checkpoint(step, step // s.per_epoch, validate)
            if cfg.keep_every and step % cfg.keep_every == 0:
                s.checkpoint.keep(step)
            if step >= s.total or s.info["stopped_early"]:
                break
    bar.close()
    return step
