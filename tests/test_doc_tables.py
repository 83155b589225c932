"""The docs' option tables are the configs' (pointkit.jobs.doc_tables): regenerate with `make docs`."""

import re
import shutil
from pathlib import Path

import click
import pytest

from pointkit.jobs import doc_tables

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
COMMANDS = ROOT / "cli" / "pointkit_cli" / "commands"


def test_docs_tables_match_the_configs():
    stale = sorted(path.name for path in doc_tables.stale(DOCS))
    assert stale == [], (
        "option tables differ from the configs: run `python -m pointkit.jobs.doc_tables --write` (make docs)"
    )


def test_an_edited_default_is_caught_and_regenerated(tmp_path):
    shutil.copy(DOCS / "training.md", tmp_path / "training.md")
    path = tmp_path / "training.md"
    text = path.read_text()
    row = "| `--batch-size INTEGER RANGE` (x>=1) | 16 |"
    assert row in text
    path.write_text(text.replace(row, "| `--batch-size INTEGER RANGE` (x>=1) | 32 |"))
    assert list(doc_tables.stale(tmp_path)) == [path]
    assert doc_tables.main(["--docs", str(tmp_path)]) == 1
    assert doc_tables.main(["--docs", str(tmp_path), "--write"]) == 0
    assert path.read_text() == text


def test_prose_outside_the_markers_is_kept():
    text = "intro\n<!-- options: view -->\nold table\n<!-- /options -->\noutro\n"
    out = doc_tables.render(text)
    assert out.startswith("intro\n<!-- options: view -->\n| option | default | meaning |\n")
    assert out.endswith("\n<!-- /options -->\noutro\n")
    assert "old table" not in out
    assert doc_tables.render(out) == out


@pytest.mark.parametrize(
    "text, message",
    [("<!-- options: nope -->\n<!-- /options -->", "unknown job 'nope'"), ("<!-- options: view -->\n", "no <!--")],
)
def test_bad_markers(text, message):
    with pytest.raises(ValueError, match=message):
        doc_tables.render(text)


def test_every_config_built_command_has_a_table_in_the_docs():
    used = set()
    for path in COMMANDS.glob("*.py"):
        used |= set(re.findall(r"@click_options\((\w+)", path.read_text()))
    listed = {spec.split(":")[1] for specs in doc_tables.JOBS.values() for spec, _ in specs}
    assert used <= listed | {"MatchJob"} and "MatchJob" in listed
    markers = {
        m for path in DOCS.glob("*.md") for m in re.findall(r"^<!-- options: ([\w-]+) -->$", path.read_text(), re.M)
    }
    assert markers == set(doc_tables.JOBS)


@pytest.mark.parametrize("job", sorted(doc_tables.JOBS))
def test_tables_show_what_help_shows(job):
    """Each option cell is an option line of the command's --help, and the defaults are its defaults."""
    from pointkit_cli.main import cli

    root = click.Context(cli, info_name="pointkit")
    command = cli.get_command(root, job)
    ctx = click.Context(command, info_name=job, parent=root)
    records = {p.get_help_record(ctx)[0]: p for p in command.get_params(ctx) if isinstance(p, click.Option)}
    for option, default, _ in doc_tables.rows([(doc_tables._load(s), only) for s, only in doc_tables.JOBS[job]]):
        flags = re.match(r"`(.*)`", option)[1].replace(r"\|", "|")
        if flags.startswith("-"):
            assert flags in records, flags
            shown = records[flags].get_help_extra(ctx).get("default")
            if shown and not records[flags].is_flag:
                assert default == shown.replace("|", r"\|")
