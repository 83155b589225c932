"""The files of one lifted image: depth maps, mask, optional normal maps and one mesh file per
format (each format an exporter of the ``pointkit.exporters`` entry-point group), each written
atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, PngImagePlugin

from pointkit import registry
from pointkit.errors import PointkitError
from pointkit.imaging import colorize_depth
from pointkit.io import atomic_path
from pointkit.lifting.pipeline import LiftResult
from pointkit.meshing import normal_map


def parse_formats(fmt: str | Sequence[str]) -> tuple[str, ...]:
    """``"glb,ply"`` or ``["glb", "ply"]`` -> ("glb", "ply"), each once and each a registered
    exporter (entry-point group ``pointkit.exporters``: the built-ins and any plugin's).

    Raises:
        PointkitError: an unknown or empty format.
    """
    names = [f.strip().lower() for f in (fmt.split(",") if isinstance(fmt, str) else fmt)]
    known = registry.available("pointkit.exporters")
    unknown = [f for f in names if f not in known]
    if unknown or not names:
        raise PointkitError(
            f"unknown format {', '.join(unknown) or repr(fmt)}; use one or more of {', '.join(known)}, comma-separated"
        )
    return tuple(dict.fromkeys(names))


def output_files(out: str | Path, stem: str, fmt: str | Sequence[str] = "glb", normals: bool = False) -> list[Path]:
    """The files ``write_outputs`` writes for ``stem`` (obj's .mtl and texture aside)."""
    out = Path(out)
    suffixes = ("_depth.npy", "_depth.png", "_depth_color.png", "_mask.png") + (
        ("_normals.npy", "_normals.png") if normals else ()
    )
    suffixes += tuple(registry.load("pointkit.exporters", f).suffix for f in parse_formats(fmt))
    return [out / f"{stem}{suffix}" for suffix in suffixes]


def write_outputs(
    result: LiftResult, out: str | Path, stem: str, fmt: str | Sequence[str] = "glb", normals: bool = False
) -> list[Path]:
    """Write one image's files into ``out``, each atomically; on any failure the files already
    written for this image are removed (never a partial set, never a partial mesh).

    Files: ``<stem>_depth.npy`` (float32), ``<stem>_depth.png`` (16-bit: 0 = background, 1..65535
    linear from the nearest to the farthest object depth; the range is in the PNG's text chunks
    ``depth_near`` / ``depth_far``), ``<stem>_depth_color.png``, ``<stem>_mask.png`` (0/255), with
    ``normals`` ``<stem>_normals.npy`` (H, W, 3 float32, ``meshing.normal_map``) and
    ``<stem>_normals.png`` ((n + 1) / 2 as 8-bit RGB, black off the object) and, last, one file per
    format of ``fmt`` (``parse_formats``), by its exporter (``pointkit.meshing.Exporter``): ``<stem>.glb`` /
    ``.ply`` / ``.obj`` (+ .mtl, texture) / ``.npz``, ``<stem>_points.ply``, or a plugin's. ``stem`` may hold
    sub-folders.
    """
    exporters = [registry.load("pointkit.exporters", f) for f in parse_formats(fmt)]
    out = Path(out)
    written: list[Path] = []
    try:
        path = out / f"{stem}_depth.npy"
        with atomic_path(path) as tmp:
            np.save(tmp, result.depth.astype(np.float32))
        written.append(path)
        d = result.depth[result.mask]
        near, far = float(d.min()), float(d.max())
        png16 = np.zeros(result.depth.shape, np.uint16)
        png16[result.mask] = 1 + np.round((d - near) / max(far - near, 1e-12) * 65534).astype(np.uint16)
        text = PngImagePlugin.PngInfo()
        text.add_text("depth_near", repr(near))
        text.add_text("depth_far", repr(far))
        for name, array, kwargs in (
            (f"{stem}_depth.png", png16, {"pnginfo": text}),
            (f"{stem}_depth_color.png", colorize_depth(result.depth, result.mask), {}),
            (f"{stem}_mask.png", result.mask.astype(np.uint8) * 255, {}),
        ):
            with atomic_path(out / name) as tmp:
                # zlib level 1 (not 6): slightly larger files, cheaper writes; lift is mostly file writing
                Image.fromarray(array).save(tmp, compress_level=1, **kwargs)
            written.append(out / name)
        if normals:
            # normal_map takes depth in units of the longer image side: undo --scale-from's metres.
            n = normal_map(result.depth / result.info.get("metres_per_unit", 1.0), result.mask)
            with atomic_path(out / f"{stem}_normals.npy") as tmp:
                np.save(tmp, n)
            written.append(out / f"{stem}_normals.npy")
            rgb = np.where(result.mask[..., None], np.round((n + 1) * 127.5), 0).astype(np.uint8)
            with atomic_path(out / f"{stem}_normals.png") as tmp:
                Image.fromarray(rgb).save(tmp, compress_level=1)
            written.append(out / f"{stem}_normals.png")
        for exporter in exporters:
            written.extend(exporter.write(result, out / f"{stem}{exporter.suffix}"))
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return written
