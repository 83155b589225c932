"""``pointkit lift``: images -> resolved depth, mask and a textured mesh per image."""
from __future__ import annotations

import json

import click

from pointkit_cli.memory_option import max_memory_option


def _checked_by(parser: str, keep_text: bool = False):
    """A Click callback that runs ``pointkit.lifting.<parser>`` on the option's text (imported on
    use, so ``lift -h`` stays fast) and turns its PointkitError into a usage error; it returns the
    parsed value, or the text itself with ``keep_text``."""
    def callback(ctx, param, value):
        from pointkit import lifting
        from pointkit.errors import PointkitError

        if value is None:
            return None
        try:
            parsed = getattr(lifting, parser)(value)
        except PointkitError as exc:
            raise click.BadParameter(str(exc)) from None
        return value if keep_text else parsed
    return callback


@click.command("lift")
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Output folder (created).")
@click.option("--checkpoint", type=click.Path(), help="LiftNet checkpoint or train run folder (default: the model shipped in pointkit).")
@click.option("--format", "fmt", default="glb", show_default=True, metavar="F[,F...]", callback=_checked_by("parse_formats"),
              help="Mesh files, comma-separated: glb (textured), ply (vertex colours), obj (+ .mtl + texture), "
                   "npz (for the Blender add-on), points (<stem>_points.ply: point cloud with normals and colours), "
                   "or one a plugin adds (`pointkit plugins`: pointkit.exporters).")
@click.option("--depth-scale", type=click.FloatRange(0, 1000, min_open=True), default=1.0, show_default=True, help="Multiplies the depth extent (1: about a sphere's).")
@click.option("--mask", default="auto", show_default=True, metavar="auto|alpha|network|grabcut|none|PATH",
              help="Object mask: auto (alpha, else the model's mask head if plausible, else GrabCut), one of those "
                   "sources by name, none (every pixel), or a mask image.")
@click.option("--device", default="auto", show_default=True, help="Torch device for the network (auto: cuda when available; cpu, cuda, cuda:N).")
@click.option("--max-pixels", type=click.IntRange(min=1), default=50_000_000, show_default=True, help="Refuse larger images.")
@click.option("--mesh-resolution", type=click.IntRange(2, 8192), default=512, show_default=True, help="Mesh vertices on the longer image side.")
@click.option("-r", "--recursive", is_flag=True, help="Also the images in sub-folders of folder inputs; the tree is mirrored under --out.")
@click.option("--scale-from", metavar="height=M|width=M", callback=_checked_by("parse_scale_from", keep_text=True),
              help="The object's real height (or width) in metres: the mesh and the depth are then in metres.")
@click.option("--normals", is_flag=True, help="Also <stem>_normals.npy and .png: normal maps in the mesh frame.")
@click.option("--skip-existing", is_flag=True, help="Leave out images whose output files all exist (resume a folder run).")
@click.option("--events", is_flag=True,
              help='One JSON line per image on stdout as it is done ({"image", "done", "total", "outputs"|"skipped"|"error"}), '
                   "before the summary: progress for programs that drive lift, such as the Blender add-on.")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N",
              help="Images per network forward (default: 8 on CUDA, 1 on the CPU, where batching buys nothing).")
@max_memory_option
@click.pass_context
def lift(ctx, inputs, out, checkpoint, fmt, depth_scale, mask, device, max_pixels, mesh_resolution, recursive, scale_from,
         normals, skip_existing, events, batch_size, max_memory_gb):
    """Lift IMAGE files or folders of images to depth maps and textured meshes in --out.

    Per image: <stem>_depth.npy, <stem>_depth.png (16-bit), <stem>_depth_color.png,
    <stem>_mask.png and one file per --format. A bad file in a folder is reported and the rest go
    on; the exit status is then 1. Prints one JSON line with the summary.
    """
    from pointkit.errors import PointkitError
    from pointkit.lifting import lift_files

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    summary = lift_files(inputs, out, fmt=fmt, checkpoint=checkpoint, depth_scale=depth_scale, mask=mask, device=device,
                         max_pixels=max_pixels, mesh_resolution=mesh_resolution, progress=not quiet,
                         recursive=recursive, skip_existing=skip_existing, normals=normals, scale_from=scale_from,
                         on_image=(lambda event: click.echo(json.dumps(event))) if events else None,
                         batch_size=batch_size, max_memory_gb=max_memory_gb)
    click.echo(json.dumps(summary))
    if summary["failed"]:
        raise PointkitError(f"{summary['failed']} of {summary['failed'] + summary['lifted']} images failed (listed above)")
