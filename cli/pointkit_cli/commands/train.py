"""``pointkit train``: parse options into a TrainConfig and call pointkit.training.train."""
from __future__ import annotations

import json
import os

import click


def _pair_of_floats(text: str, option: str) -> tuple[float, float]:
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r}: use LOW,HIGH, e.g. 1,1.5", param_hint=option) from None
    return low, high


@click.command("train")
@click.argument("datasets", nargs=-1, type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (config, logs, checkpoints).")
@click.option("--loss", type=click.Choice(["corr", "depth"]), default="corr", show_default=True,
              help="corr: LiftNet from correspondences only; depth: supervised baseline (aligned MSE on ground truth).")
@click.option("--corr-per-pair", type=click.IntRange(min=0), default=0, show_default=True,
              help="K correspondences per view pair, a fixed seeded subset; 0 keeps all.")
@click.option("--tau", type=click.FloatRange(min=0, min_open=True), help="Robust threshold of R in input pixels [default: 10 px at 256 px, scaled].")
@click.option("--ransac/--no-ransac", default=True, show_default=True, help="RANSAC camera before the least-squares refit.")
@click.option("--robust/--no-robust", default=True, show_default=True, help="Robust cost R (off: plain squared error).")
@click.option("--hypotheses", type=click.IntRange(min=1), default=256, show_default=True, help="RANSAC hypotheses per pair.")
@click.option("--steps", type=click.IntRange(min=1), help="Optimiser steps (wins over --epochs).")
@click.option("--epochs", type=click.IntRange(min=1), default=200, show_default=True, help="Epochs (the paper's maximum; early stopping ends sooner).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True, help="Pairs per step over all processes.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Learning rate [default: 1e-3; 1e-5 with --init].")
@click.option("--optimizer", type=click.Choice(["sgd", "adamw"]), default="sgd", show_default=True,
              help="sgd: momentum 0.9 (the paper's).")
@click.option("--grad-clamp", type=click.FloatRange(min=0), default=5.0, show_default=True, help="Clamp gradients to +-this (0: off).")
@click.option("--amp", type=click.Choice(["auto", "bf16", "off"]), default="auto", show_default=True,
              help="bf16 autocast (auto: on CUDA only).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Weights, data order, subsets, RANSAC.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--init", "init", type=click.Path(), help="Start from this checkpoint or run folder (fine-tuning).")
@click.option("--input-size", type=click.IntRange(min=8), help="Network input side (power of two) [default: 256 or --init's].")
@click.option("--ngf", type=click.IntRange(min=1), help="Width of the first layer [default: 64 or --init's].")
@click.option("--mask-head/--no-mask-head", default=None, help="Second output: foreground-mask logits, supervised by dataset masks.")
@click.option("--mask-weight", type=click.FloatRange(min=0), default=1.0, show_default=True, help="Weight of the mask head's BCE loss.")
@click.option("--center-weight", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Weight pinning the free depth offset: (mean depth on the mask)^2 (0: the paper, off).")
@click.option("--dropout", type=click.FloatRange(0, 1, max_open=True), help="Dropout in the innermost decoder blocks [default: 0].")
@click.option("--prior", type=click.Choice(["none", "silhouette"]),
              help="Extra input channel: the mask's silhouette prior (none: the paper) [default: none or --init's].")
@click.option("--prior-dropout", type=click.FloatRange(0, 1, max_open=True), default=0.3, show_default=True,
              help="With --prior silhouette: share of samples trained without it (lift's mask pass has none).")
@click.option("--val-every", type=click.IntRange(min=0), default=0, show_default=True, help="Validate every N steps (0: each epoch).")
@click.option("--patience", type=click.IntRange(min=0), default=5, show_default=True,
              help="Early stopping: validations without a better validation correspondence error (0: off).")
@click.option("--val-pairs", type=click.IntRange(min=0), default=0, show_default=True,
              help="Validate on at most N pairs, evenly spread over the split (0: all).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=200, show_default=True, help="Resumable state every N steps.")
@click.option("--workers", type=click.IntRange(min=0), help="DataLoader workers [default: 0 on CPU, 4 on CUDA].")
@click.option("--threads", type=click.IntRange(min=1), help="torch CPU threads.")
@click.option("--cache", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Decoded dataset in memory (auto: when it fits in --cache-gb).")
@click.option("--cache-gb", type=click.FloatRange(min=0), default=4.0, show_default=True)
@click.option("--synth", type=click.Path(dir_okay=False), multiple=True,
              help="Shape bank (render-synthetic --bank), repeatable (pooled): make training pairs on the fly on "
                   "the device instead of DATASETs.")
@click.option("--synth-zoom", metavar="LOW,HIGH", default="1,1", show_default=True,
              help="With --synth: each batch framed tighter by a factor in [LOW, HIGH] (1.5: objects may fill "
                   "and leave the frame, as in close-ups).")
@click.pass_context
def train(ctx, datasets, out, loss, corr_per_pair, tau, ransac, robust, hypotheses, steps, epochs, batch_size, lr,
          optimizer, grad_clamp, amp, device, seed, resume, init, input_size, ngf, mask_head, mask_weight,
          center_weight, dropout, prior, prior_dropout, val_every, val_pairs, patience, checkpoint_every, workers, threads, cache, cache_gb, synth,
          synth_zoom):
    """Train LiftNet on DATASET... (their "train" objects; "val" objects drive early stopping), or on
    pairs made on the fly from a --synth shape bank.

    Depth is learned from the correspondences only; a --mask-head is supervised by the dataset
    masks. Under torchrun (`torchrun --nproc-per-node N -m pointkit_cli.main train ...`) the
    processes train one model with DistributedDataParallel. Prints one JSON line: the summary.
    """
    from pointkit.training import TrainConfig
    from pointkit.training import train as run_training

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    cfg = TrainConfig(datasets=list(datasets), out=out, loss=loss, corr_per_pair=corr_per_pair, tau=tau, ransac=ransac,
                      robust=robust, hypotheses=hypotheses, steps=steps, epochs=epochs, batch_size=batch_size, lr=lr,
                      optimizer=optimizer, grad_clamp=grad_clamp, amp=amp, device=device, seed=seed, init=init,
                      input_size=input_size, ngf=ngf, mask_head=mask_head, dropout=dropout, prior=prior,
                      prior_dropout=prior_dropout, mask_weight=mask_weight,
                      center_weight=center_weight, val_every=val_every, val_pairs=val_pairs, patience=patience,
                      checkpoint_every=checkpoint_every, workers=workers, threads=threads, cache=cache, cache_gb=cache_gb, progress=not quiet, resume=resume,
                      synth=list(synth) or None, synth_zoom=_pair_of_floats(synth_zoom, "--synth-zoom"))
    summary = run_training(cfg)
    if int(os.environ.get("RANK", "0")) == 0:   # under torchrun only process 0 reports
        click.echo(json.dumps(summary))
