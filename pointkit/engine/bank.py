"""``render-synthetic --bank``: the shapes of a render job as one SDF bank for ``train --synth``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from pointkit.engine.appearance import appearance_from_folder
from pointkit.engine.sdf import ShapeBank, mesh_to_sdf, save_bank
from pointkit.errors import PointkitError, first_line

BANK_NAME = "bank.npz"
DEFAULT_GRID = 64


def build_bank(
    out: str | Path,
    meshes: str | Path | None = None,
    procedural: int | None = None,
    seed: int = 0,
    families: list[str] | None = None,
    grid: int = DEFAULT_GRID,
    progress: bool = True,
    appearance: str | Path | None = None,
    backgrounds: str = "train",
    up: str = "y",
) -> dict[str, Any]:
    """Write ``out/bank.npz``: int8 truncated SDF grids (``grid``^3) of the objects a
    ``render-synthetic`` job with the same ``meshes`` / ``procedural`` / ``seed`` / ``families``
    would render (same object ids, same sculptures), plus the photo style's assets
    (``EngineAppearance``: background photos of the ``backgrounds`` split, texture maps, HDRI
    light) from the appearance folder (``appearance``, else the default one; ``backgrounds="none"``
    or no folder: shapes only); ``up``: the mesh files' up axis (``load_mesh``). Returns a summary
    (out, objects, failed, bytes, assets).

    Raises:
        PointkitError: bad options, or no object could be turned into a grid.
    """
    from pointkit.render.assets import BACKGROUND_SPLITS, resolve_appearance_dir
    from pointkit.render.dataset import object_sources
    from pointkit.render.mesh import load_mesh
    from pointkit.render.procedural import check_families, sculpture

    if grid < 16:
        raise PointkitError(f"--grid {grid}: use at least 16 voxels per side")
    if backgrounds not in BACKGROUND_SPLITS + ("none",):
        raise PointkitError(f"backgrounds={backgrounds!r}: use one of {', '.join(BACKGROUND_SPLITS + ('none',))}")
    root = None if backgrounds == "none" else resolve_appearance_dir(appearance, required=appearance is not None)
    assets = appearance_from_folder(root, backgrounds) if root is not None else None
    try:
        families = list(check_families(families)) if families else None
    except ValueError as exc:
        raise PointkitError(f"--families: {exc}") from None
    tasks, _ = object_sources(meshes, procedural)
    grids, names, failed = [], [], []
    for object_id, source in tqdm(tasks, desc="bank", unit="shape", disable=not progress):
        try:
            mesh = (
                load_mesh(source["mesh"], up)
                if "mesh" in source
                else sculpture(seed, source["procedural"], families=families)
            )
            grids.append(mesh_to_sdf(mesh, grid))
            names.append(object_id)
        except Exception as exc:  # one bad mesh is reported, the rest go on
            logging.getLogger(__name__).warning("%s failed: %s", object_id, first_line(exc))
            failed.append(object_id)
    if not grids:
        raise PointkitError("no shape could be turned into an SDF grid; see the warnings above")

    path = save_bank(Path(out) / BANK_NAME, ShapeBank.from_grids(np.stack(grids), "int8", names=names), assets)
    counts = {
        k: 0 if assets is None or getattr(assets, k) is None else len(getattr(assets, k))
        for k in ("photos", "textures", "sh")
    }
    return {
        "out": str(path),
        "objects": len(names),
        "failed": len(failed),
        "grid": grid,
        "bytes": path.stat().st_size,
        "assets": counts,
    }
