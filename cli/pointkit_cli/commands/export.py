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


@export.command("fp16")
@click.argument("checkpoint")
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The .safetensors file to write.")
def fp16(checkpoint, out):
    """CHECKPOINT (a file, a train run folder or a model name) with float16 weights, the same
    header: half the bytes, read back by every command as float32 (how models/ keeps
    candidates). Prints one JSON line."""
    from pointkit.models.liftnet import half_checkpoint

    click.echo(json.dumps(half_checkpoint(checkpoint, out)))
