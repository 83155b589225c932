"""``pointkit plugins``: what the entry-point registry finds."""

import json

import click


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
@click.option("--check", is_flag=True, help="Also import each plugin and report failures.")
def plugins(as_json, check):
    """List the plugins registered under each pointkit entry-point group."""
    from pointkit import registry

    table = {}
    for group in registry.GROUPS:
        rows = registry.describe(group)
        if check:
            for row in rows:
                try:
                    registry.load(group, row["name"])
                    row["status"] = "ok"
                except registry.PluginError as exc:
                    row["status"] = f"broken: {exc}"
        table[group] = rows
    if as_json:
        click.echo(json.dumps(table))
        return
    for group, rows in table.items():
        click.echo(f"{group}:")
        if not rows:
            click.echo("  (none)")
        for row in rows:
            status = f"  [{row['status']}]" if "status" in row else ""
            click.echo(f"  {row['name']:<16} {row['target']}  ({row['distribution']}){status}")
