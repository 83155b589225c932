"""``pointkit export``: models in other formats."""

import json

import click


@click.group()
def export():
    """Export a LiftNet checkpoint to another format."""


@export.command("onnx")
@click.argument("checkpoint")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .onnx file to write.")
def onnx(checkpoint, out):
    """CHECKPOINT (a file, a train run folder or a model name) as ONNX: dynamic batch, the
    checkpoint's input size; checked against torch with onnxruntime after export (docs/lift.md).
    Prints one JSON line."""
    from pointkit.onnx_export import export_onnx

    click.echo(json.dumps(export_onnx(checkpoint, out)))
