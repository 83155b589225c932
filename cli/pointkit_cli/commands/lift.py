"""``pointkit lift``: the options are LiftConfig's settings; the job is pointkit.lifting.folder.lift_files."""

from __future__ import annotations

import json

import click

from pointkit.lifting.config import LiftConfig
from pointkit.jobs.settings import click_options, from_cli
from pointkit_cli.memory_option import max_memory_option


@click.command("lift")
@click_options(LiftConfig)
@max_memory_option
@click.pass_context
def lift(ctx, max_memory_gb, **_):
    """Lift IMAGE files or folders of images to depth maps and textured meshes in --out.

    Per image: <stem>_depth.npy, <stem>_depth.png (16-bit), <stem>_depth_color.png,
    <stem>_mask.png and one file per --format; the settings go to <out>/config.json. A bad file in
    a folder is reported and the rest go on; the exit status is then 1. Prints one JSON line with
    the summary.
    """
    from pointkit.errors import PointkitError
    from pointkit.lifting.folder import lift_files

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    config = from_cli(LiftConfig, ctx, progress=not quiet, max_memory_gb=max_memory_gb)
    summary = lift_files(config, on_image=(lambda event: click.echo(json.dumps(event))) if config.events else None)
    click.echo(json.dumps(summary))
    if summary["failed"]:
        raise PointkitError(
            f"{summary['failed']} of {summary['failed'] + summary['lifted']} images failed (listed above)"
        )
