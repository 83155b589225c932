"""The docs' option tables, made from the job configs' settings (:mod:`pointkit.jobs.settings`).

Each command's table (``| option | default | meaning |``) is rendered from the same ``setting()``
declarations :func:`~pointkit.jobs.settings.click_options` turns into Click options, through Click's
own help records: the option cell is the flag and metavar ``--help`` prints, the default is the one
``--help`` shows (or the ``[default: ...]`` a help line states itself, for settings resolved later),
and the meaning is the help line (an on/off switch's default reads "on" or "off"). So a default or help line is written once, in the config.

In a Markdown file, the lines between ``<!-- options: NAME -->`` and ``<!-- /options -->`` are the
table of job NAME (a key of :data:`JOBS`); everything outside the markers is hand-written prose.

    python -m pointkit.jobs.doc_tables            # check: print a diff and exit 1 when a table is stale
    python -m pointkit.jobs.doc_tables --write    # regenerate the tables in docs/*.md (make docs)
    python -m pointkit.jobs.doc_tables --print train
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import re
import sys
from pathlib import Path

import click

from pointkit.jobs.settings import click_options, leaf_settings

JOBS: dict[str, tuple[tuple[str, tuple[str, ...] | None], ...]] = {
    "train": (("pointkit.training.config:TrainConfig", None),),
    "render-synthetic": (("pointkit.render.config:RenderConfig", None),),
    "lift": (("pointkit.lifting.config:LiftConfig", None),),
    "view": (("pointkit.view:ViewConfig", None),),
    "match": (("pointkit.match.settings:MatchJob", None),),
    "eval": (("pointkit.evaluate:EvalConfig", None),),
    "adapt": (("pointkit.adapt:AdaptConfig", None), ("pointkit.match.settings:MatchSettings", ("masks", "max_size"))),
}
"""Job name (as in the markers) -> the configs its command is built from, in the command's order:
``("module:Class", only)`` as in ``@click_options(Class, only=...)``."""

BEGIN = re.compile(r"^<!-- options: (?P<name>[\w-]+) -->$")
END = "<!-- /options -->"
HEADER = ("| option | default | meaning |", "|---|---|---|")
_INLINE_DEFAULT = re.compile(r"\s*\[default: (?P<default>[^\]]*)\]")
DOCS = Path(__file__).resolve().parents[2] / "docs"


def _load(spec: str):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _cell(text: str) -> str:
    """``text`` for a table cell: pipes escaped, and ``<`` outside code spans (``<stem>`` is no HTML tag)."""
    parts = text.replace("|", r"\|").replace("\n", " ").split("`")
    return "`".join(part if i % 2 else part.replace("<", r"\<") for i, part in enumerate(parts))


def _code(text: str) -> str:
    return "`" + text.replace("|", r"\|") + "`"


def rows(configs) -> list[tuple[str, str, str]]:
    """(option, default, meaning) of each command-line setting of ``configs`` (``(cls, only)``
    pairs, the command's order): the options ``click_options`` makes, as Click's help shows them."""

    def callback(**_):
        pass

    helps = {}
    for cls, only in reversed(configs):
        callback = click_options(cls, only)(callback)
        helps.update({f.name: s.help for f, s in leaf_settings(cls)})
    command = click.command("job")(callback)
    ctx = click.Context(command, info_name="job")
    out = []
    for param in command.params:
        meaning = helps.get(param.name, "")
        inline = _INLINE_DEFAULT.search(meaning)
        if inline:
            meaning = (meaning[: inline.start()] + meaning[inline.end() :]).strip()
        if isinstance(param, click.Argument):
            option = _code(param.make_metavar(ctx))
            default = "required" if param.required else ""
        else:
            option = _code(param.get_help_record(ctx)[0])
            extra = param.get_help_extra(ctx)
            if extra.get("range"):
                option += f" ({_cell(extra['range'])})"
            default = extra.get("default") or (inline and inline["default"]) or extra.get("required", "")
            if param.is_flag and isinstance(param.default, bool):  # Click shows "ransac" for --ransac/--no-ransac
                default = "on" if param.default else "off"
        out.append((option, _cell(str(default)), _cell(meaning)))
    return out


def table(name: str) -> str:
    """The Markdown option table of job ``name`` (a key of :data:`JOBS`), without a final newline."""
    configs = [(_load(spec), only) for spec, only in JOBS[name]]
    lines = [*HEADER, *(f"| {o} | {d} | {m} |" for o, d, m in rows(configs))]
    return "\n".join(lines)


def render(text: str, where: str = "<text>") -> str:
    """``text`` (Markdown) with the lines between each pair of markers replaced by the job's table.

    Raises:
        ValueError: an unknown job name, or a marker without its end.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        out.append(lines[i])
        begin = BEGIN.match(lines[i].strip())
        i += 1
        if not begin:
            continue
        name = begin["name"]
        if name not in JOBS:
            raise ValueError(f"{where}: unknown job {name!r} in an options marker (known: {', '.join(JOBS)})")
        end = next((j for j in range(i, len(lines)) if lines[j].strip() == END), None)
        if end is None:
            raise ValueError(f"{where}: <!-- options: {name} --> has no {END}")
        out.extend(table(name).split("\n"))
        out.append(lines[end])
        i = end + 1
    return "\n".join(out)


def stale(docs: Path = DOCS) -> dict[Path, tuple[str, str]]:
    """The Markdown files under ``docs`` whose tables differ from the configs': path -> (now, generated)."""
    found = {}
    for path in sorted(docs.glob("*.md")):
        text = path.read_text()
        new = render(text, str(path))
        if new != text:
            found[path] = (text, new)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pointkit.jobs.doc_tables", description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the stale tables (default: only check)")
    parser.add_argument("--print", metavar="JOB", choices=list(JOBS), help="print one job's table")
    parser.add_argument("--docs", type=Path, default=DOCS, help="folder of the Markdown files [default: docs/]")
    args = parser.parse_args(argv)
    if args.print:
        print(table(args.print))
        return 0
    found = stale(args.docs)
    for path, (text, new) in found.items():
        if args.write:
            path.write_text(new)
            print(f"wrote {path}")
        else:
            sys.stdout.writelines(
                difflib.unified_diff(text.splitlines(True), new.splitlines(True), str(path), str(path))
            )
    if found and not args.write:
        print("option tables are stale: run `python -m pointkit.jobs.doc_tables --write` (make docs)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
