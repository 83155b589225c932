"""The settings of the ``lift`` job (:class:`LiftConfig`, the one place of their defaults, ranges and
help); :func:`pointkit.lifting.folder.lift_files` runs it."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click

from pointkit.defaults import MASK_SOURCES, MAX_PIXELS, MESH_MAX_SIDE
from pointkit.errors import PointkitError
from pointkit.jobs.settings import check, device_setting, max_memory_setting, progress_setting, setting


class _ParsedBy(click.ParamType):
    """Text checked by ``parser`` ("module:function", imported on use: ``--help`` stays fast),
    kept as text."""

    def __init__(self, parser: str, metavar: str):
        self.parser, self.name = parser, metavar

    def convert(self, value, param, ctx):
        module, _, function = self.parser.partition(":")
        try:
            getattr(importlib.import_module(module), function)(value)
        except PointkitError as exc:
            self.fail(str(exc), param, ctx)
        return value


@dataclass(frozen=True)
class LiftConfig:
    """Settings of ``pointkit lift`` and :func:`pointkit.lifting.folder.lift_files`."""

    inputs: tuple[str, ...] = setting(
        help="Image files or folders.", type=click.Path(), argument=True, multiple=True, required=True
    )
    out: str = setting(help="Output folder (created).", type=click.Path(file_okay=False))
    checkpoint: str | None = setting(
        None,
        "LiftNet checkpoint, train run folder or model name (`pointkit models`) "
        "[default: the model shipped in pointkit].",
        type=click.Path(),
    )
    fmt: str = setting(
        "glb",
        "Mesh files, comma-separated: glb (textured), ply (vertex colours), obj (+ .mtl + "
        "texture), npz (for the Blender add-on), points (<stem>_points.ply: point cloud with normals "
        "and colours), or one a plugin adds (`pointkit plugins`: pointkit.exporters).",
        flag="--format",
        type=_ParsedBy("pointkit.lifting.outputs:parse_formats", "F[,F...]"),
    )
    depth_scale: float = setting(
        1.0, "Multiplies the depth extent (1: about a sphere's).", type=click.FloatRange(0, 1000, min_open=True)
    )
    mask: str = setting(
        "auto",
        "Object mask: auto (alpha, else the model's mask head if plausible, else GrabCut), "
        "one of those sources by name, none (every pixel), or a mask image.",
        type=_ParsedBy("pointkit.masks:check_mask_source", "NAME|PATH"),
        metavar="|".join(MASK_SOURCES) + "|PATH",
    )
    device: str = device_setting("Torch device for the network (auto: cuda when available).")
    max_pixels: int = setting(MAX_PIXELS, "Refuse larger images.", type=click.IntRange(min=1))
    mesh_resolution: int = setting(
        MESH_MAX_SIDE, "Mesh vertices on the longer image side.", type=click.IntRange(2, 8192)
    )
    recursive: bool = setting(
        False,
        "Also the images in sub-folders of folder inputs; the tree is mirrored under --out.",
        flag="-r --recursive",
    )
    scale_from: str | None = setting(
        None,
        "The object's real height (or width) in metres: the mesh and the depth are then in metres.",
        type=_ParsedBy("pointkit.lifting.rules:parse_scale_from", "height=M|width=M"),
    )
    normals: bool = setting(False, "Also <stem>_normals.npy and .png: normal maps in the mesh frame.")
    skip_existing: bool = setting(False, "Leave out images whose output files all exist (resume a folder run).")
    events: bool = setting(
        False,
        'One JSON line per image on stdout as it is done ({"image", "done", "total", '
        '"outputs"|"skipped"|"error"}), before the summary: progress for programs that drive '
        "lift, such as the Blender add-on.",
    )
    batch_size: int | None = setting(
        None,
        "Images per network forward [default: 8 on CUDA, 1 on the CPU, where batching buys nothing].",
        type=click.IntRange(min=1),
        metavar="N",
    )
    backend: str = setting(
        "auto",
        "Network runtime: torch, onnx (the checkpoint's ONNX export beside it, by "
        "onnxruntime on the CPU, without importing torch: seconds faster per run) or auto (onnx when "
        "the device is the CPU and such an export exists, as for the shipped model).",
        type=click.Choice(["auto", "torch", "onnx"]),
    )
    max_memory_gb: float | None = max_memory_setting("an image")
    progress: bool = progress_setting()

    def __post_init__(self):
        if not self.inputs:
            raise PointkitError("give at least one image file or folder to lift")
        object.__setattr__(self, "inputs", tuple(str(p) for p in self.inputs))
        object.__setattr__(self, "out", str(self.out))  # paths as text: config.json is JSON
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", str(self.checkpoint))
        check(self)
