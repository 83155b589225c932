"""``pointkit adapt``: match your photos, fine-tune LiftNet on them, report held-out error."""

import json

import click


@click.command()
@click.argument("photos", type=click.Path(file_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="Adaptation folder (created; the same command resumes it). lift --checkpoint takes it.",
)
@click.option(
    "--init", default="default", show_default=True, help="Model to start from: checkpoint, run folder or name."
)
@click.option("--steps", type=click.IntRange(min=1), default=600, show_default=True)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Pairs per step, at most the ordered training pairs there are.",
)
@click.option(
    "--lr",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-4,
    show_default=True,
    help="SGD learning rate (momentum 0.9, as the paper; 10x its fine-tuning lr for a short run).",
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of each object's view pairs held out to measure the error before and after.",
)
@click.option(
    "--min-pairs",
    type=click.IntRange(min=2),
    default=3,
    show_default=True,
    help="Refuse when match keeps fewer view pairs than this (3: one held out, two to train on).",
)
@click.option("--masks", default="none", show_default=True, metavar="DIR|auto|none", help="As pointkit match --masks.")
@click.option(
    "--max-size", type=click.IntRange(min=64), default=1024, show_default=True, help="As pointkit match --max-size."
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--threads", type=click.IntRange(min=1), help="torch CPU threads.")
@click.pass_context
def adapt(ctx, photos, out, init, steps, batch_size, lr, holdout, min_pairs, masks, max_size, seed, device, threads):
    """Adapt LiftNet to your objects: PHOTOS holds one sub-folder of photos per object.

    Runs `match` on them, holds out a share of the view pairs, fine-tunes the model on the rest
    with the correspondence loss, and writes OUT/best.safetensors (with its ONNX export, when
    pointkit[onnx] is installed) and OUT/MODEL_CARD.md with the held-out correspondence error
    before and after. Prints one JSON line.
    """
    from pointkit.adapt import AdaptConfig
    from pointkit.adapt import adapt as run_adapt

    quiet = bool(ctx.find_root().obj and ctx.find_root().obj.get("quiet"))
    cfg = AdaptConfig(
        photos=photos,
        out=out,
        init=init,
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        holdout=holdout,
        min_pairs=min_pairs,
        match={"masks": masks, "max_size": max_size, "seed": seed},
        seed=seed,
        device=device,
        threads=threads,
    )
    click.echo(json.dumps(run_adapt(cfg, progress=not quiet)))
