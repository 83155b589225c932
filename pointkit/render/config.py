"""The settings of one ``pointkit render-synthetic`` job (:class:`RenderConfig`).

``pointkit render-synthetic``'s options are made from these fields (:mod:`pointkit.jobs.settings`),
so a default, a range or a help line lives here only; ``build_dataset`` takes a RenderConfig (or its
fields as keywords). The job saves it as ``<out>/config.json``, which dataset readers ignore (they
read ``manifest*.json`` and ``objects/``); ``--resume`` takes the settings not given from it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pointkit.errors import PointkitError
from pointkit.jobs.settings import check, load_saved, max_memory_setting, progress_setting, setting
from pointkit.render.mesh import UP_AXES
from pointkit.render.presets import PRESETS
from pointkit.render.procedural import check_families

JOB = "render-synthetic"
DEFAULT_MAX_CORR = 1000
"""Correspondences kept per ordered view pair (a fixed seeded subset); 0 or -1 keeps all."""
DEFAULT_RESOLUTION = 256
DEFAULT_GRID = 64
"""``--grid``: pointkit.engine.bank.DEFAULT_GRID (not imported: pointkit.engine imports torch; a test checks)."""
_DIR = click.Path(file_okay=False)


class KeyValue(click.ParamType):
    """``KEY=VALUE`` -> (key, value), VALUE parsed as JSON when it can be (``samples=32`` -> 32,
    ``denoise=true`` -> True, ``material=marble`` -> "marble"); a (key, value) pair or a dict of
    them passes through."""

    name = "KEY=VALUE"

    def convert(self, value, param, ctx):
        if isinstance(value, dict) and all(isinstance(k, str) and k for k in value):
            return value
        if isinstance(value, (tuple, list)) and len(value) == 2 and isinstance(value[0], str) and value[0]:
            return tuple(value)
        key, sep, text = value.partition("=") if isinstance(value, str) else ("", "", "")
        if not sep or not key:
            self.fail(f"{value!r}: use KEY=VALUE", param, ctx)
        try:
            return key, json.loads(text)
        except json.JSONDecodeError:
            return key, text


@dataclass(kw_only=True)
class RenderConfig:
    """Everything a ``render-synthetic`` job depends on (each field's help says what it is).

    ``shard`` is (i, n) or "i/n"; ``families`` a list or "a,b"; ``renderer_options`` a dict or
    ``KEY=VALUE`` strings. The dataset manifest records the settings that make the data (and
    refuses a re-run into ``out`` with others); ``config.json`` records the whole config, without
    ``shard``: every shard of a job writes the same file, and a shard resumes with ``--shard``.
    """

    meshes: str | None = setting(None, "Folder of OBJ/PLY/STL/OFF/GLB/GLTF meshes (searched recursively).", type=_DIR)
    procedural: int | None = setting(
        None, "Render N procedural sculptures instead of mesh files.", type=click.IntRange(min=1)
    )
    out: str = setting(help="Dataset folder (resumed if it exists).", type=_DIR)
    preset: str = setting(
        "sketchfab",
        "Views: sketchfab = 5 views, azimuth 0-120, elevation 0; shapenet = 10 random "
        "views (both the paper's); turntable = 6 random views, azimuth 0-120, elevation -10-30.",
        type=click.Choice(list(PRESETS)),
    )
    views: int | None = setting(None, "Views per object (overrides the preset).", type=click.IntRange(min=2))
    resolution: int = setting(DEFAULT_RESOLUTION, "Image size R (R x R).", type=click.IntRange(min=16))
    renderer: str = setting(
        "fast", "Renderer plugin: fast (built in), engine (built in, torch SDF) or blender (a plugin)."
    )
    renderer_options: dict[str, Any] | None = setting(
        None,
        "Renderer option, repeatable (e.g. samples=32 for blender).",
        flag="--option",
        metavar="KEY=VALUE",
        multiple=True,
        type=KeyValue(),
    )
    families: list[str] | None = setting(
        None,
        "Procedural families to draw from (default all; e.g. "
        "blob,vase,twist,union: pointkit's first, abstract datasets).",
        metavar="A,B,...",
    )
    bank: bool = setting(
        False,
        "Instead of rendering views, write --out/bank.npz: the objects' SDF grids and the "
        "photo style's assets (--option backgrounds=train|test|all|none) for `train --synth` "
        "(on-the-fly data, e.g. on a GPU machine).",
    )
    grid: int = setting(DEFAULT_GRID, "With --bank: SDF voxels per side.", type=click.IntRange(min=16))
    up: str = setting(
        "y",
        "Up axis of the --meshes files: z for Z-up scans (turned to Y-up), else they lie on their side.",
        type=click.Choice(list(UP_AXES)),
    )
    seed: int = setting(0, "Job seed: shapes, appearance, views, splits.", type=int)
    workers: int = setting(1, "Processes rendering in parallel.", type=click.IntRange(min=1))
    shard: tuple[int, int] | None = setting(
        None, "Do only shard I of N (0-based); shards read as one dataset.", metavar="I/N"
    )
    max_corr: int = setting(
        DEFAULT_MAX_CORR,
        "Correspondences kept per ordered view pair (seeded subset); 0 or -1 keeps all.",
        type=click.IntRange(min=-1),
    )
    resume: bool = setting(
        False, "Take the settings not given from --out's config.json (re-running the same command resumes as well)."
    )
    max_memory_gb: float | None = max_memory_setting("the job")
    margin: float | None = setting(
        None,
        "Camera framing margin (default pointkit.geometry.DEFAULT_MARGIN).",
        type=click.FloatRange(min=0),
        cli=False,
    )
    progress: bool = progress_setting()

    def __post_init__(self):
        self.out = str(self.out)
        self.meshes = None if self.meshes is None else str(self.meshes)
        check(self)
        self.seed = int(self.seed)
        self.renderer_options = _options_dict(self.renderer_options)
        self.shard = parse_shard(self.shard)
        self.families = _families(self.families)

    @property
    def max_corr_kept(self) -> int:
        """``max_corr`` with "all" as 0 (what the manifest records)."""
        return self.max_corr if self.max_corr > 0 else 0


def _options_dict(value) -> dict[str, Any]:
    if not value:
        return {}
    if isinstance(value, dict):
        return dict(value)
    return dict(KeyValue().convert(item, None, None) for item in value)


def parse_shard(shard: tuple[int, int] | list[int] | str | None) -> tuple[int, int] | None:
    """``"i/n"`` or (i, n) -> (i, n) with 0 <= i < n.

    Raises:
        PointkitError: not of that form.
    """
    if shard is None:
        return None
    try:
        i, n = (int(x) for x in (shard.split("/") if isinstance(shard, str) else shard))
    except (TypeError, ValueError):
        raise PointkitError(f"--shard {shard!r}: use i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise PointkitError(f"--shard {shard!r}: need 0 <= i < n")
    return i, n


def _families(families: list[str] | str | None) -> list[str] | None:
    """ "a,b" or a list -> the list of known family names (None or empty: all)."""
    if isinstance(families, str):
        families = [f.strip() for f in families.split(",")]
    if not families:
        return None
    try:
        return list(check_families(families))
    except ValueError as exc:
        raise PointkitError(f"--families: {exc}") from None


def saved_config(out: str | Path) -> dict[str, Any]:
    """The settings of the job in ``out`` (its ``config.json``), for ``--resume``.

    Raises:
        PointkitError: ``out`` has no config.json (a dataset made before there was one: give its
            options instead), or the file is not a render-synthetic config.
    """
    saved = load_saved(out, JOB)
    if saved is None:
        raise PointkitError(
            f"{out}: no config.json to resume from; re-run the command that made it "
            "(without --resume), which resumes it too"
        )
    return saved
