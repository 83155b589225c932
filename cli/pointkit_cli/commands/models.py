"""``pointkit models``: the models ``--checkpoint NAME`` can name."""

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON list on stdout.")
def models(as_json):
    """List the models by name: the shipped default and the checkpoints in $POINTKIT_HOME/models
    (*.safetensors files and train run folders). Use a name with --checkpoint (lift, eval) or --init."""
    from pointkit.models import catalog

    rows = [{"name": e.name, "source": e.source, "path": str(e.path)} for e in catalog.available()]
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(f"{row['name']:<24} {row['source']:<8} {row['path']}")
    if not any(r["source"] == "user" for r in rows):
        click.echo(f"(no user models: put checkpoints or train run folders in {catalog.model_home()})")
