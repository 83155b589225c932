"""``pointkit adapt``: the options are AdaptConfig's settings and match's MATCH_OPTIONS; the command
composes the config and calls pointkit.adapt.adapt."""

from __future__ import annotations

import json

import click

from pointkit.adapt import MATCH_OPTIONS, AdaptConfig
from pointkit.jobs.settings import click_options, from_cli
from pointkit.match.settings import MatchSettings


@click.command()
@click_options(AdaptConfig)
@click_options(MatchSettings, only=MATCH_OPTIONS)
@click.pass_context
def adapt(ctx, **_):
    """Adapt LiftNet to your objects: PHOTOS holds one sub-folder of photos per object.

    Runs `match` on them, holds out a share of the view pairs, fine-tunes the model on the rest
    with the correspondence loss, and writes OUT/best.safetensors (with its ONNX export, when
    pointkit[onnx] is installed) and OUT/MODEL_CARD.md with the held-out correspondence error
    before and after. --masks and --max-size are match's; --seed is given to matching too.
    Prints one JSON line.
    """
    from pointkit.adapt import adapt as run_adapt

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    match = MatchSettings(**{name: ctx.params[name] for name in MATCH_OPTIONS}, seed=ctx.params["seed"])
    cfg = from_cli(AdaptConfig, ctx, match=match)
    click.echo(json.dumps(run_adapt(cfg, progress=not quiet)))
