"""``pointkit eval``: the options are EvalConfig's settings; the command composes the config from
them and [CHECKPOINT] DATASET, and calls pointkit.evaluate.run_eval."""

from __future__ import annotations

import json

import click

from pointkit.evaluate import EvalConfig
from pointkit.jobs.settings import click_options, from_cli


@click.command("eval")
@click.argument("paths", nargs=-1, required=True, metavar="[CHECKPOINT] DATASET")
@click_options(EvalConfig)
@click.pass_context
def evaluate(ctx, paths, baseline, **_):
    """Depth metrics of CHECKPOINT (a .safetensors file or a run folder) on DATASET.

    Writes metrics.json (l1, rmse, abs_rel, sq_rel, delta1 under the paper / ls / affine
    alignments), per_image.csv, metrics.md, grid.png and config.json; prints one JSON line of
    headline metrics. With --baseline flat give only DATASET.
    """
    from pointkit.evaluate import run_eval

    if baseline:
        if len(paths) != 1:
            raise click.UsageError("with --baseline give only DATASET")
        checkpoint, dataset = None, paths[0]
    else:
        if len(paths) != 2:
            raise click.UsageError("give CHECKPOINT and DATASET (or --baseline flat DATASET)")
        checkpoint, dataset = paths
    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    config = from_cli(EvalConfig, ctx, checkpoint=checkpoint, dataset=dataset, progress=not quiet)
    click.echo(json.dumps(run_eval(config)))
