"""``pointkit train``: the options are TrainConfig's settings; the command composes the config and
calls pointkit.training.train."""

from __future__ import annotations

import json
import os

import click

from pointkit.jobs.settings import click_options, from_cli
from pointkit.training.config import TrainConfig, saved_config


@click.command("train")
@click_options(TrainConfig)
@click.pass_context
def train(ctx, **_):
    """Train LiftNet on DATASET... (their "train" objects; "val" objects drive early stopping), or on
    pairs made on the fly from a --synth shape bank.

    Depth is learned from the correspondences only; a --mask-head is supervised by the dataset
    masks. Under torchrun (`torchrun --nproc-per-node N -m pointkit_cli.main train ...`) the
    processes train one model with DistributedDataParallel. With --resume, settings not given
    come from the run's config.json. Prints one JSON line: the summary.
    """
    from pointkit.training import train as run_training

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    saved = saved_config(ctx.params["out"]) if ctx.params["resume"] else None
    cfg = from_cli(TrainConfig, ctx, saved, progress=not quiet, resume=ctx.params["resume"])
    summary = run_training(cfg)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun only process 0 reports
        click.echo(json.dumps(summary))
