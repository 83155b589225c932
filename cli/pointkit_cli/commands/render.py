"""``pointkit render-synthetic`` and ``pointkit show``. render-synthetic's options are RenderConfig's
settings (pointkit.render.config); the command composes the config and calls build_dataset (or,
with --bank, pointkit.engine.bank.build_bank)."""

from __future__ import annotations

import json

import click

from pointkit.errors import PointkitError
from pointkit.jobs.settings import click_options, from_cli
from pointkit.render.config import JOB, RenderConfig, saved_config
from pointkit_cli.memory_option import max_memory_option


def _bank(cfg: RenderConfig) -> dict:
    """``--bank``: the shape bank of the job's objects (pointkit.engine.bank); config.json once it is written."""
    from pointkit.engine.bank import build_bank
    from pointkit.jobs.settings import save

    unknown = sorted(set(cfg.renderer_options) - {"appearance", "backgrounds"})
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: with --bank only appearance=DIR and backgrounds=train|test|all|none apply",
            param_hint="--option",
        )
    opts = cfg.renderer_options
    summary = build_bank(
        cfg.out,
        cfg.meshes,
        cfg.procedural,
        cfg.seed,
        cfg.families,
        cfg.grid,
        progress=cfg.progress,
        appearance=opts.get("appearance"),
        backgrounds=opts.get("backgrounds", "train"),
        up=cfg.up,
    )
    save(cfg, cfg.out, JOB)
    return summary


@click.command("render-synthetic")
@click_options(RenderConfig)
@max_memory_option
@click.pass_context
def render_synthetic(ctx, **_):
    """Render orthographic views with exact depth and ground-truth correspondences into a dataset.

    Prints one JSON line with the summary (objects rendered, skipped, failed, views/s). With
    --resume, settings not given come from --out's config.json.
    """
    from pointkit.render.dataset import build_dataset

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    saved = saved_config(ctx.params["out"]) if ctx.params["resume"] else None
    cfg = from_cli(
        RenderConfig,
        ctx,
        saved,
        progress=not quiet,
        max_memory_gb=ctx.params["max_memory_gb"],
        margin=(saved or {}).get("margin"),
    )  # not an option: set from Python, kept on --resume
    summary = _bank(cfg) if cfg.bank else build_dataset(cfg)
    click.echo(json.dumps(summary))
    if summary.get("failed") and not cfg.bank:
        raise PointkitError(
            f"{summary['failed']} of {summary['objects']} objects failed to render "
            f"(reasons in {summary['manifest']} under 'failures')"
        )


@click.command("show")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--object", "object_id", help="Object id (default: the first one).")
@click.option(
    "--pair",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="View pair whose correspondences are drawn.",
)
@click.option("--lines", type=click.IntRange(min=0), default=40, show_default=True, help="Correspondence lines drawn.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output image (e.g. sheet.png).")
def show(dataset, object_id, pair, lines, out):
    """Contact sheet of one object: RGB, depth colour map, mask per view and correspondence lines."""
    from pointkit.render.sheet import object_sheet, save_sheet

    path = save_sheet(object_sheet(dataset, object_id, pair=pair, lines=lines), out)
    click.echo(json.dumps({"out": str(path)}))
