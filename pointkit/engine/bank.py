"""``render-synthetic --bank``: the shapes of a render job as one SDF bank for ``train --synth``."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from pointkit.errors import PointkitError

BANK_NAME = "bank.npz"
DEFAULT_GRID = 64


def build_bank(out: str | Path, meshes: str | Path | None = None, procedural: int | None = None, seed: int = 0,
               families: list[str] | None = None, grid: int = DEFAULT_GRID, progress: bool = True) -> dict[str, Any]:
    """Write ``out/bank.npz``: int8 truncated SDF grids (``grid``^3) of the objects a
    ``render-synthetic`` job with the same ``meshes`` / ``procedural`` / ``seed`` / ``families``
    would render (same object ids, same sculptures). Returns a summary (out, objects, failed, bytes).

    Raises:
        PointkitError: bad options, or no object could be turned into a grid.
    """
    import logging

    from tqdm import tqdm

    from pointkit.engine.sdf import ShapeBank, mesh_to_sdf, save_bank
    from pointkit.render.dataset import object_sources
    from pointkit.render.mesh import load_mesh
    from pointkit.render.procedural import check_families, sculpture

    if grid < 16:
        raise PointkitError(f"--grid {grid}: use at least 16 voxels per side")
    try:
        families = list(check_families(families)) if families else None
    except ValueError as exc:
        raise PointkitError(f"--families: {exc}") from None
    tasks, _ = object_sources(meshes, procedural)
    grids, names, failed = [], [], []
    for object_id, source in tqdm(tasks, desc="bank", unit="shape", disable=not progress):
        try:
            mesh = load_mesh(source["mesh"]) if "mesh" in source else \
                sculpture(seed, source["procedural"], families=families)
            grids.append(mesh_to_sdf(mesh, grid))
            names.append(object_id)
        except Exception as exc:  # one bad mesh is reported, the rest go on
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            logging.getLogger(__name__).warning("%s failed: %s", object_id, first)
            failed.append(object_id)
    if not grids:
        raise PointkitError("no shape could be turned into an SDF grid; see the warnings above")
    import numpy as np

    path = save_bank(Path(out) / BANK_NAME, ShapeBank.from_grids(np.stack(grids), "int8", names=names))
    return {"out": str(path), "objects": len(names), "failed": len(failed), "grid": grid, "bytes": path.stat().st_size}
