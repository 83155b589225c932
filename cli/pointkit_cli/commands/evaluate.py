"""``pointkit eval``: parse options and call pointkit.evaluate.evaluate."""
from __future__ import annotations

import json

import click


@click.command("eval")
@click.argument("paths", nargs=-1, required=True, metavar="[CHECKPOINT] DATASET")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for metrics.json, CSV, table, grid.")
@click.option("--split", default="test", show_default=True, help="Split to evaluate: train, val, test or all.")
@click.option("--baseline", type=click.Choice(["flat"]), help="Evaluate the flat-depth baseline instead of a checkpoint.")
@click.option("--input-size", type=click.IntRange(min=16), help="Evaluation side for --baseline (default: the dataset's resolution).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--grid", type=click.IntRange(min=0), default=8, show_default=True, help="Images in grid.png (0: none).")
@click.pass_context
def evaluate(ctx, paths, out, split, baseline, input_size, batch_size, device, grid):
    """Depth metrics of CHECKPOINT (a .safetensors file or a run folder) on DATASET.

    Writes metrics.json (l1, rmse, abs_rel, sq_rel, delta1 under the paper / ls / affine
    alignments), per_image.csv, metrics.md and grid.png; prints one JSON line of headline metrics.
    With --baseline flat give only DATASET.
    """
    from pointkit.evaluate import evaluate as run_eval

    if baseline:
        if len(paths) != 1:
            raise click.UsageError("with --baseline give only DATASET")
        checkpoint, dataset = None, paths[0]
    else:
        if len(paths) != 2:
            raise click.UsageError("give CHECKPOINT and DATASET (or --baseline flat DATASET)")
        checkpoint, dataset = paths
    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    result = run_eval(checkpoint, dataset, out, split=split, baseline=baseline, input_size=input_size,
                      batch_size=batch_size, device=device, grid=grid, progress=not quiet)
    click.echo(json.dumps(result))
