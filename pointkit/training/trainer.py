"""The training run behind ``pointkit train`` (paper §3 and §5; single process or torchrun DDP).

:func:`train` makes one :class:`Trainer` per process. A run folder holds::

    run.json                 resolved config, pointkit/torch versions, the dataset manifests used
    config.json              the settings of the latest part of the run (``train --resume --out``)
    state.json + state-<step>.safetensors   resumable state (see pointkit.training.checkpoint)
    last.safetensors         LiftNet checkpoint of the latest checkpoint step
    best.safetensors         LiftNet checkpoint with the lowest validation correspondence error
    step-NNNNNN.safetensors  with --keep-every N: the model at every N-th step, kept
    train.csv, val.csv       logs (also TensorBoard events in tb/; pointkit.training.logs)
    summary.json             what train returns

The parts live beside it: the processes (``distributed``), the run folder's checks and record
(``run_folder``), logs (``logs``), the loss of a step (``objective``) and the batches
(``sources``).
"""

from __future__ import annotations

import math
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from pointkit.errors import PointkitError
from pointkit.io import write_json_atomic
from pointkit.jobs.settings import save as save_config
from pointkit.models import LiftNet, load_checkpoint
from pointkit.training.checkpoint import STATE_JSON, load_state, model_metadata, save_state
from pointkit.training.config import TrainConfig
from pointkit.training.distributed import Distributed
from pointkit.training.logs import TRAIN_FIELDS, Logs
from pointkit.training.objective import StepContext, compute_loss, validation_error
from pointkit.training.run_folder import check_run_folder, write_run_record
from pointkit.training.sources import open_source


def train(cfg: TrainConfig) -> dict[str, Any]:
    """Train LiftNet as ``cfg`` says; returns a summary (steps, best validation error, paths).

    Under torchrun every process calls this; gradients are averaged by DistributedDataParallel,
    only process 0 writes files.

    Raises:
        PointkitError: empty/corrupt datasets, mixed resolutions, a checkpoint of another
            architecture, cuda requested but absent, an output folder holding another run.
    """
    dist = Distributed(cfg.device)
    try:
        return Trainer(cfg, dist).train()
    finally:
        dist.close()


def _optimizer(cfg: TrainConfig, model: torch.nn.Module, lr: float) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return torch.optim.AdamW(model.parameters(), lr=lr)


class Trainer:
    """One process's part of a training run: its model (``net``: the model or its DDP wrapper),
    optimiser, pair source (``data``), logs and checkpoints.

    Made, the run folder is checked (or resumed from) and the run recorded; :meth:`train` then
    takes optimiser steps to the run's total. ``info`` is the record ``save_state`` keeps: step,
    epoch, best_val, best_step, bad_validations, stopped_early.
    """

    def __init__(self, cfg: TrainConfig, dist: Distributed):
        self.cfg, self.dist, self.run = cfg, dist, Path(cfg.out)
        device = dist.device
        saved = check_run_folder(self.run, cfg)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self._build_model_and_data()
        cuda = device.type == "cuda"
        amp = cfg.amp == "bf16" or (cfg.amp == "auto" and cuda)
        lr, tau = cfg.resolved_lr(), cfg.resolved_tau(self.model_cfg.input_size)
        self.optimizer = _optimizer(cfg, self.model, lr)
        self.info = dict(step=0, epoch=0, best_val=None, best_step=None, bad_validations=0, stopped_early=False)
        if saved is not None and (self.run / STATE_JSON).exists():
            restored = load_state(self.run, self.model, self.optimizer, device)
            self.info.update({k: v for k, v in restored.items() if k in self.info})
            if dist.main:
                save_config(cfg, self.run, "train")  # the settings this part of the run uses (--steps ...)
        elif dist.main:
            resolved = {
                "lr": lr,
                "tau": tau,
                "corr_per_pair": cfg.resolved_corr_per_pair(),
                "amp": amp,
                "device": str(device),
                "world_size": dist.world,
            }
            write_run_record(self.run, cfg, self.model_cfg, resolved, self.data, device)
        dist.barrier()
        ddp = torch.nn.parallel.DistributedDataParallel
        self.net = self.model if dist.world == 1 else ddp(self.model, device_ids=[device.index] if cuda else None)
        self.per_epoch = self.data.sampler.batches_per_epoch
        autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16) if amp else nullcontext()
        self.ctx = StepContext(cfg, tau, dist.rank, device, autocast, channels_last=cuda)
        self.logs = Logs(self.run, self.info["step"], dist.main)
        self.total = cfg.steps if cfg.steps is not None else cfg.epochs * self.per_epoch

    def _build_model_and_data(self) -> None:
        """``model`` on the device (seeded; ``--init``'s weights), ``model_cfg``, the pair source
        ``data`` and ``bpr``, the pairs per step of this process."""
        cfg, dist = self.cfg, self.dist
        init_model = load_checkpoint(cfg.init)[0] if cfg.init else None
        self.model_cfg = cfg.model.resolve(init_model.config if init_model is not None else None, cfg.init)
        if cfg.batch_size % dist.world:
            raise PointkitError(f"--batch-size {cfg.batch_size} must be divisible by the {dist.world} processes")
        self.bpr = cfg.batch_size // dist.world
        self.data = open_source(cfg, self.model_cfg.input_size, self.bpr, dist)
        torch.manual_seed(cfg.seed)
        model = LiftNet(self.model_cfg)
        if init_model is not None:
            model.load_state_dict(init_model.state_dict())
        layout = torch.channels_last if dist.device.type == "cuda" else torch.contiguous_format
        self.model = model.to(dist.device, memory_format=layout)

    def train(self) -> dict[str, Any]:
        """Train to the run's total steps (or early stopping); returns the summary, also written
        as ``RUN/summary.json``."""
        step = self._loop()
        self.logs.close()
        info, run = self.info, self.run
        summary = {
            "run": str(run),
            "steps": step,
            "epochs": round(step / self.per_epoch, 3),
            "best_val_corr_error_px": info["best_val"],
            "best_step": info["best_step"],
            "stopped_early": info["stopped_early"],
            "best": str(run / "best.safetensors"),
            "last": str(run / "last.safetensors"),
            "train_pairs": self.data.train_pairs,
            "val_pairs": self.data.val_pairs,
            "world_size": self.dist.world,
        }
        if self.dist.main:
            write_json_atomic(run / "summary.json", summary)
        return summary

    def _loop(self) -> int:
        """Optimiser steps from the resumed step to the total (or early stopping), with logs,
        validations and checkpoints; returns the last step."""
        cfg, info = self.cfg, self.info
        step, val_every = info["step"], cfg.val_every or self.per_epoch
        if step == 0:
            self._checkpoint(0, 0, validate=True)  # the "before" number (fine-tuning) and step 0 state
        show = cfg.progress and self.dist.main
        bar = tqdm(total=self.total, initial=step, desc="train", unit="step", disable=not show, dynamic_ncols=True)
        self.net.train()
        t0, images_since = time.perf_counter(), 0
        while step < self.total and not info["stopped_early"]:
            epoch, start_batch = divmod(step, self.per_epoch)
            self.data.sampler.set_epoch(epoch, start_batch)
            for batch in self.data.loader:
                batch = {k: v.to(self.ctx.device, non_blocking=True) for k, v in batch.items()}
                loss_value, stats = self._optimizer_step(batch, step)
                step += 1
                images_since += self.bpr * self.dist.world
                elapsed = time.perf_counter() - t0
                row = {
                    "step": step,
                    "epoch": epoch,
                    "loss": loss_value,
                    "lr": self.optimizer.param_groups[0]["lr"],
                    "images_per_s": images_since / elapsed if elapsed > 0 else "",
                    **stats,
                }
                self.logs.write("train", {k: row.get(k, "") for k in TRAIN_FIELDS})
                bar.set_postfix(loss=f"{loss_value:.4g}", img_s=f"{row['images_per_s']:.1f}" if elapsed > 0 else "")
                bar.update(1)
                validate = step % val_every == 0 or step == self.total
                if validate or step % cfg.checkpoint_every == 0:
                    self._checkpoint(step, step // self.per_epoch, validate)
                if cfg.keep_every and step % cfg.keep_every == 0:
                    self._save_model(f"step-{step:06d}.safetensors", step, info["best_val"])
                if step >= self.total or info["stopped_early"]:
                    break
        bar.close()
        return step

    def _optimizer_step(self, batch: dict[str, torch.Tensor], step: int) -> tuple[float, dict[str, float]]:
        """One optimiser step on ``batch`` (the objective, backward, gradient clamp); returns the
        loss value and the loss terms. Raises PointkitError when the loss is not finite."""
        loss, stats = compute_loss(self.net, batch, self.ctx, step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.grad_clamp > 0:
            torch.nn.utils.clip_grad_value_(self.model.parameters(), self.cfg.grad_clamp)
        self.optimizer.step()
        value = float(loss.detach())
        if not math.isfinite(value):
            raise PointkitError(f"loss became {value} at step {step + 1}; lower --lr or check the dataset")
        return value, stats

    def _checkpoint(self, step: int, epoch: int, validate: bool) -> None:
        """Validate (when asked and there are val pairs: val.csv, best.safetensors, the
        early-stopping record), then write last.safetensors and the resumable state."""
        info = self.info
        if validate and self.data.val_pairs:
            err, vloss = validation_error(self.model, self.data.val_loader, self.ctx, self.dist)
            better = info["best_val"] is None or err < info["best_val"]
            if better:
                info.update(best_val=err, best_step=step, bad_validations=0)
                self._save_model("best.safetensors", step, err)
            else:
                info["bad_validations"] += 1
            self.logs.write(
                "val", {"step": step, "epoch": epoch, "val_corr_error_px": err, "val_loss": vloss, "best": int(better)}
            )
            if self.cfg.patience and info["bad_validations"] >= self.cfg.patience:
                info["stopped_early"] = True
        self._save_model("last.safetensors", step, info["best_val"])
        if not self.data.val_pairs:
            self._save_model("best.safetensors", step, None)
        if self.dist.main:
            state = {**info, "step": step, "epoch": epoch, "config": self.cfg.to_dict()}
            save_state(self.run, self.model, self.optimizer, state)
        self.dist.barrier()

    def _save_model(self, name: str, step: int, val_error: float | None) -> None:
        """The model as ``RUN/name`` with its checkpoint metadata (main process only)."""
        if self.dist.main:
            self.model.save(
                self.run / name, model_metadata(self.cfg, self.model_cfg, step, val_error, self.data.datasets)
            )
