"""``pointkit render-synthetic`` and ``pointkit show``."""
from __future__ import annotations

import json

import click

from pointkit_cli.memory_option import max_memory_option


def _renderer_options(pairs: tuple[str, ...]) -> dict:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: use KEY=VALUE", param_hint="--option")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


@click.command("render-synthetic")
@click.option("--meshes", type=click.Path(file_okay=False), help="Folder of OBJ/PLY/STL/OFF/GLB meshes (searched recursively).")
@click.option("--procedural", type=click.IntRange(min=1), help="Render N procedural sculptures instead of mesh files.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Dataset folder (resumed if it exists).")
@click.option("--preset", type=click.Choice(["sketchfab", "shapenet", "turntable"]), default="sketchfab",
              show_default=True, help="Views: sketchfab = 5 views, azimuth 0-120, elevation 0; shapenet = 10 random "
                                      "views (both the paper's); turntable = 6 random views, azimuth 0-120, elevation -10-30.")
@click.option("--views", type=click.IntRange(min=2), help="Views per object (overrides the preset).")
@click.option("--resolution", type=click.IntRange(min=16), default=256, show_default=True, help="Image size R (R x R).")
@click.option("--renderer", default="fast", show_default=True, help="Renderer plugin: fast (open3d) or blender.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Renderer option, repeatable (e.g. samples=32 for blender).")
@click.option("--families", metavar="A,B,...", help="Procedural families to draw from (default all; e.g. "
              "blob,vase,twist,union: pointkit's first, abstract datasets).")
@click.option("--bank", is_flag=True, help="Instead of rendering views, write --out/bank.npz: the objects' SDF grids "
              "and the photo style's assets (--option backgrounds=train|test|all|none) for `train --synth` "
              "(on-the-fly data, e.g. on a GPU machine).")
@click.option("--grid", type=click.IntRange(min=16), default=64, show_default=True, help="With --bank: SDF voxels per side.")
@click.option("--up", type=click.Choice(["y", "z"]), default="y", show_default=True,
              help="Up axis of the --meshes files: z for Z-up scans (turned to Y-up), else they lie on their side.")
@click.option("--seed", type=int, default=0, show_default=True, help="Job seed: shapes, appearance, views, splits.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Processes rendering in parallel.")
@click.option("--shard", metavar="I/N", help="Do only shard I of N (0-based); shards read as one dataset.")
@click.option("--max-corr", type=click.IntRange(min=-1), default=1000, show_default=True,
              help="Correspondences kept per ordered view pair (seeded subset); 0 or -1 keeps all.")
@max_memory_option
@click.pass_context
def render_synthetic(ctx, meshes, procedural, out, preset, views, resolution, renderer, options, families, bank, grid,
                     up, seed, workers, shard, max_corr, max_memory_gb):
    """Render orthographic views with exact depth and ground-truth correspondences into a dataset.

    Prints one JSON line with the summary (objects rendered, skipped, failed, views/s).
    """
    from pointkit.render.dataset import build_dataset

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    family_list = [f.strip() for f in families.split(",")] if families else None
    if bank:
        from pointkit.engine.bank import build_bank

        opts = _renderer_options(options)
        unknown = sorted(set(opts) - {"appearance", "backgrounds"})
        if unknown:
            raise click.BadParameter(f"{', '.join(unknown)}: with --bank only appearance=DIR and "
                                     "backgrounds=train|test|all|none apply", param_hint="--option")
        click.echo(json.dumps(build_bank(out, meshes, procedural, seed, family_list, grid, progress=not quiet,
                                         appearance=opts.get("appearance"), backgrounds=opts.get("backgrounds", "train"),
                                         up=up)))
        return
    summary = build_dataset(out, meshes=meshes, procedural=procedural, preset=preset, views=views,
                            resolution=resolution, renderer=renderer, seed=seed, workers=workers, shard=shard,
                            max_corr=max_corr, renderer_options=_renderer_options(options),
                            families=family_list, progress=not quiet, up=up, max_memory_gb=max_memory_gb)
    click.echo(json.dumps(summary))
    if summary["failed"]:
        from pointkit.errors import PointkitError

        raise PointkitError(f"{summary['failed']} of {summary['objects']} objects failed to render "
                            f"(reasons in {summary['manifest']} under 'failures')")


@click.command("show")
@click.argument("dataset", type=click.Path(file_okay=False))
@click.option("--object", "object_id", help="Object id (default: the first one).")
@click.option("--pair", type=click.IntRange(min=0), default=0, show_default=True, help="View pair whose correspondences are drawn.")
@click.option("--lines", type=click.IntRange(min=0), default=40, show_default=True, help="Correspondence lines drawn.")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output image (e.g. sheet.png).")
def show(dataset, object_id, pair, lines, out):
    """Contact sheet of one object: RGB, depth colour map, mask per view and correspondence lines."""
    from pointkit.render.sheet import object_sheet, save_sheet

    path = save_sheet(object_sheet(dataset, object_id, pair=pair, lines=lines), out)
    click.echo(json.dumps({"out": str(path)}))
