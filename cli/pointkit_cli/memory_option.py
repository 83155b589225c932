"""``--max-memory-gb``: the one memory limit of the commands that check a memory estimate
(``view``, ``render-synthetic``; ``pointkit.memory``)."""

from __future__ import annotations

import click

from pointkit import memory


def max_memory_option(command):
    """Add ``--max-memory-gb`` (environment ``POINTKIT_MAX_MEMORY_GB``) to a click command."""
    return click.option(
        memory.FLAG,
        "max_memory_gb",
        type=click.FloatRange(min=0, min_open=True),
        envvar=memory.ENV,
        show_default=f"{memory.default_limit_gb():g}: {memory.DEFAULT_FRACTION:.0%} of this machine's memory",
        help="Refuse a job whose memory estimate is over this many GB (env POINTKIT_MAX_MEMORY_GB).",
    )(command)
