"""The training objective (paper §3 and §5): the loss of one batch, and the validation error.

Batches are ``collate_pairs`` dicts on the training device: image (B,3,S,S) uint8, mask (B,S,S)
bool, depth (B,S,S) float32, src / tgt (B,K,2) float32 pixel coordinates, valid (B,K) bool. The
network's output is (B,1,S,S) depth, or (B,2,S,S) depth and mask logits with a mask head.

Every random draw (RANSAC samples, prior dropout) comes from a generator seeded by (seed, step,
rank), so a resumed run repeats the uninterrupted one exactly.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F

from pointkit.losses import aligned_depth_loss, correspondence_loss, scale_shift_invariant_loss
from pointkit.models import to_network_input
from pointkit.training.config import TrainConfig
from pointkit.training.distributed import Distributed

_CPU = torch.device("cpu")


@dataclass(frozen=True)
class StepContext:
    """What the objective needs besides the model, the batch and the step: the run's settings
    (``cfg``; ``tau``, R's threshold in input pixels or None), this process (``rank``, ``device``)
    and how the network runs (``autocast``: a bf16 autocast or a null context; ``channels_last``)."""

    cfg: TrainConfig
    tau: float | None
    rank: int = 0
    device: torch.device = _CPU
    autocast: Any = field(default_factory=nullcontext)
    channels_last: bool = False


def step_generator(seed: int, step: int, rank: int, device: torch.device) -> torch.Generator:
    """RANSAC sampling generator of one step: a function of (seed, step, rank), so resume is exact."""
    return torch.Generator(device=device).manual_seed((seed * 1_000_003 + step) * 64 + rank)


def network_input(
    model,
    batch: dict[str, torch.Tensor],
    channels_last: bool,
    prior_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The input of ``model`` (a LiftNet, possibly DDP-wrapped) for a batch: RGB (B,3,S,S), plus
    the silhouette prior of the batch's masks (B,4,S,S) when the model takes one. Each sample's
    prior is zeroed with probability ``prior_dropout`` (drawn from the CPU ``generator``), so the
    same network also learns depth and mask from RGB alone (lift's first pass has no mask yet)."""
    from pointkit.masks import silhouette_prior_batch

    prior = None
    if getattr(model, "module", model).config.prior == "silhouette":
        prior = silhouette_prior_batch(batch["mask"])
        if prior_dropout > 0:
            keep = torch.rand(prior.shape[0], generator=generator) >= prior_dropout
            prior = prior * keep.to(prior.device, prior.dtype)[:, None, None, None]
    return to_network_input(batch["image"], channels_last, prior)


def _corr_loss(depth: torch.Tensor, batch: dict[str, torch.Tensor], ctx: StepContext, generator: torch.Generator):
    """The correspondence loss of ``depth`` (B,1,S,S) under the run's RANSAC settings: ``(loss,
    stats)`` (training and validation score pairs the same way; only the RANSAC generator differs)."""
    cfg = ctx.cfg
    return correspondence_loss(depth, batch["src"], batch["tgt"], batch["valid"], tau=ctx.tau, ransac=cfg.ransac,
                               threshold=cfg.ransac_threshold(depth.shape[-1]), hypotheses=cfg.hypotheses,
                               generator=generator, return_stats=True)  # fmt: skip


def _correspondence_term(depth, batch, ctx: StepContext, step: int) -> tuple[torch.Tensor, dict[str, float]]:
    """The correspondence loss of one step and its statistics (corr_error_px: the mean
    reprojection error over non-degenerate pairs, NaN when all are degenerate; corr_loss)."""
    corr, cs = _corr_loss(depth, batch, ctx, step_generator(ctx.cfg.seed, step, ctx.rank, ctx.device))
    keep = ~cs.degenerate
    error = float(cs.mean_error[keep].mean()) if keep.any() else float("nan")
    return corr, {"corr_error_px": error, "corr_loss": float(corr.detach())}


def _depth_term(depth: torch.Tensor, batch: dict[str, torch.Tensor], loss: str) -> torch.Tensor:
    """Ground-truth depth supervision on the mask: aligned depth (``depth``) or scale-shift invariant."""
    supervised = aligned_depth_loss if loss == "depth" else scale_shift_invariant_loss
    return supervised(depth, batch["depth"][:, None], batch["mask"][:, None])


def _center_term(depth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The squared mean depth over the mask (B,S,S), averaged over the batch (fixes the free offset)."""
    m = mask.float()
    mean_depth = (depth[:, 0] * m).sum((1, 2)) / m.sum((1, 2)).clamp_min(1)
    return (mean_depth**2).mean()


def compute_loss(
    model, batch: dict[str, torch.Tensor], ctx: StepContext, step: int
) -> tuple[torch.Tensor, dict[str, float]]:
    """The training objective of one batch (already on ``ctx.device``) at optimiser step ``step``.

    ``corr``: :func:`pointkit.losses.correspondence_loss` of the predicted source depth;
    ``depth``: :func:`pointkit.losses.aligned_depth_loss` against ground truth on the mask;
    ``ssi``: :func:`pointkit.losses.scale_shift_invariant_loss` against ground truth on the mask;
    ``corr+ssi``: the first plus ``ssi_weight`` x the third. Plus, with a mask head,
    ``mask_weight`` x BCE of the mask logits against the dataset mask; with ``center_weight``, that
    weight x the squared mean depth over the mask (fixes the free offset).
    Returns the loss (a scalar) and float statistics (corr_error_px is the mean reprojection error;
    depth_loss is the ground-truth term, unweighted).
    """
    cfg = ctx.cfg
    prior_generator = step_generator(cfg.seed + 104729, step, ctx.rank, _CPU)
    x = network_input(model, batch, ctx.channels_last, cfg.prior_dropout, prior_generator)
    with ctx.autocast:
        out = model(x)
    depth = out[:, :1].float()
    stats: dict[str, float] = {}
    loss = depth.new_zeros(())
    if cfg.loss in ("corr", "corr+ssi"):
        corr, corr_stats = _correspondence_term(depth, batch, ctx, step)
        stats.update(corr_stats)
        loss = loss + corr
    if cfg.loss != "corr":
        term = _depth_term(depth, batch, cfg.loss)
        stats["depth_loss"] = float(term.detach())
        loss = loss + (cfg.ssi_weight if cfg.loss == "corr+ssi" else 1.0) * term
    if out.shape[1] > 1 and cfg.mask_weight > 0:
        mask_loss = F.binary_cross_entropy_with_logits(out[:, 1].float(), batch["mask"].float())
        stats["mask_loss"] = float(mask_loss.detach())
        loss = loss + cfg.mask_weight * mask_loss
    if cfg.center_weight > 0:
        center_loss = _center_term(depth, batch["mask"])
        stats["center_loss"] = float(center_loss.detach())
        loss = loss + cfg.center_weight * center_loss
    return loss, stats


@torch.no_grad()
def validation_error(model, loader, ctx: StepContext, dist: Distributed) -> tuple[float, float]:
    """Mean validation correspondence error (px, mean over non-degenerate pairs of each pair's mean
    reprojection error through its RANSAC camera) and mean correspondence loss, over all processes.
    RANSAC samples come from a fixed generator, so the number is comparable across steps."""
    was_training = model.training
    model.eval()
    err_sum, loss_sum, n = 0.0, 0.0, 0.0
    for i, batch in enumerate(loader):
        batch = {k: v.to(ctx.device, non_blocking=True) for k, v in batch.items()}
        with ctx.autocast:
            depth = model(network_input(model, batch, ctx.channels_last))[:, :1].float()
        g = step_generator(ctx.cfg.seed + 7919, i, dist.rank, ctx.device)
        loss, cs = _corr_loss(depth, batch, ctx, g)
        keep = ~cs.degenerate
        err_sum += float(cs.mean_error[keep].sum())
        loss_sum += float(loss) * float(keep.sum())
        n += float(keep.sum())
    model.train(was_training)
    err_sum, loss_sum, n = dist.sum([err_sum, loss_sum, n])
    return (err_sum / n, loss_sum / n) if n else (float("nan"), float("nan"))
