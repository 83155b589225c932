"""``pointkit view``: turntable preview of a mesh or depth map."""
from __future__ import annotations

import json

import click

from pointkit_cli.memory_option import max_memory_option


@click.command("view")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--out", type=click.Path(dir_okay=False), help="Turntable strip PNG to write.")
@click.option("--views", type=click.IntRange(min=1), default=8, show_default=True, help="Frames in the strip.")
@click.option("--size", type=click.IntRange(16, 8192), default=256, show_default=True, help="Frame side in pixels.")
@click.option("--elevation", type=float, default=15.0, show_default=True, help="Camera elevation in degrees.")
@click.option("--arc", type=float, default=360.0, show_default=True,
              help="Degrees of azimuth the frames span (e.g. 120 for a relief seen from the front).")
@click.option("--interactive", is_flag=True, help="Also open an open3d window (needs a display).")
@max_memory_option
def view(path, out, views, size, elevation, arc, interactive, max_memory_gb):
    """Render PATH (a mesh, a <stem>_depth.npy or a .npz from pointkit lift) as a turntable strip
    offscreen (no GL needed). Prints one JSON line."""
    from pointkit.view import view as run_view

    click.echo(json.dumps(run_view(path, out, views=views, size=size, elevation=elevation, arc=arc, show=interactive,
                                   max_memory_gb=max_memory_gb)))
