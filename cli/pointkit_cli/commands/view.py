"""``pointkit view``: turntable preview of a mesh or depth map. The options are ViewConfig's settings
(pointkit.view); the command composes the config and calls pointkit.view.view."""

from __future__ import annotations

import json

import click

from pointkit.jobs.settings import click_options, from_cli
from pointkit.view import ViewConfig
from pointkit_cli.memory_option import max_memory_option


@click.command("view")
@click.argument("path", type=click.Path(dir_okay=False))
@click_options(ViewConfig)
@max_memory_option
@click.pass_context
def view(ctx, path, **_):
    """Render PATH (a mesh, a <stem>_depth.npy or a .npz from pointkit lift) as a turntable strip
    offscreen (no GL needed). Prints one JSON line."""
    from pointkit.view import view as run_view

    cfg = from_cli(ViewConfig, ctx, path=path, max_memory_gb=ctx.params["max_memory_gb"])
    click.echo(json.dumps(run_view(cfg)))
