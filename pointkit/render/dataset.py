"""The dataset-building job behind ``pointkit render-synthetic``.

Renders every object (mesh files or procedural sculptures) from its preset views, computes the
ground-truth correspondences of every ordered view pair, and writes the dataset format
(docs/dataset-format.md): one object file per object, written atomically, and a manifest with the
settings, the objects (split, source, seed, views) and the failures. Re-running the same job
resumes: an object whose file exists is not rendered again. ``shard=(i, n)`` takes every n-th
object starting at i and writes ``manifest-shard-i-of-n.json``; the shards read as one dataset.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pointkit.data.splits import assign_splits
from pointkit.errors import PointkitError, first_line

log = logging.getLogger(__name__)

DEFAULT_MAX_CORR = 1000
"""Correspondences kept per ordered view pair (a fixed seeded subset); 0 or -1 keeps all."""
DEFAULT_RESOLUTION = 256
SPLIT_FRACTIONS = {"train": 0.9, "val": 0.05, "test": 0.05}
MANIFEST_EVERY_S = 2.0


def _hash01(*parts: Any) -> float:
    """A number in [0, 1) from a stable hash of ``parts`` (not Python's salted ``hash``)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2.0 ** 64


def object_seed(seed: int, object_id: str) -> int:
    """The 31-bit seed of one object's views and appearance, from the job seed and its id."""
    return int(_hash01("object", seed, object_id) * 2 ** 31)


def split_of(object_id: str, seed: int, fractions: dict[str, float] = SPLIT_FRACTIONS) -> str:
    """"train", "val" or "test" of an object by its hash alone (its id and the job seed): what
    ``job_splits`` gives it unless the job is too small to fill every split that way."""
    return assign_splits({object_id: _hash01("split", seed, object_id)}, fractions)[object_id]


def job_splits(object_ids: list[str], seed: int, fractions: dict[str, float] = SPLIT_FRACTIONS) -> dict[str, str]:
    """The split of every object of a job (``pointkit.data.splits.assign_splits``: no empty split
    once there are 3 objects)."""
    return assign_splits({oid: _hash01("split", seed, oid) for oid in object_ids}, fractions)


def mesh_object_id(path: Path, root: Path) -> str:
    """Object id of a mesh file: its path under ``root`` with '/' -> '--', then the one id rule
    (``pointkit.data.format.object_id_from``; ``scans/bunny.obj`` -> ``scans--bunny.obj``)."""
    from pointkit.data.format import object_id_from

    return object_id_from(path.relative_to(root).as_posix().replace("/", "--"), fallback="mesh")


def object_sources(meshes: str | Path | None, procedural: int | None) -> tuple[list[tuple[str, dict]], dict]:
    """Sorted (object_id, source) of the job and the manifest's description of the source."""
    from pointkit.render.mesh import MESH_SUFFIXES
    from pointkit.render.procedural import sculpture_id

    if (meshes is None) == (procedural is None):
        raise PointkitError("give exactly one of --meshes DIR or --procedural N")
    if procedural is not None:
        if procedural < 1:
            raise PointkitError(f"--procedural {procedural}: need at least one sculpture")
        return [(sculpture_id(i), {"procedural": i}) for i in range(procedural)], {"procedural": procedural}
    root = Path(meshes)
    if not root.is_dir():
        raise PointkitError(f"{root}: --meshes must be a folder of mesh files")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in MESH_SUFFIXES)
    if not files:
        raise PointkitError(f"{root}: no mesh files ({', '.join(MESH_SUFFIXES)}) found")
    tasks = [(mesh_object_id(p, root), {"mesh": str(p.resolve())}) for p in files]
    return tasks, {"meshes": str(root.resolve())}


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """"i/n" -> (i, n) with 0 <= i < n."""
    if text is None:
        return None
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise PointkitError(f"--shard {text!r}: use i/n, e.g. 0/4") from None
    if not 0 <= i < n:
        raise PointkitError(f"--shard {text!r}: need 0 <= i < n")
    return i, n


_RENDERERS: dict[str, Any] = {}


def _render_object(task: dict) -> dict:
    """Render one object and write its file; returns a result dict (never raises for bad input)."""
    from pointkit.data.format import ObjectRecord, write_object
    from pointkit.geometry.correspondences import all_pair_correspondences
    from pointkit.render.mesh import load_mesh
    from pointkit.render.procedural import sculpture
    from pointkit.render.views import get_renderer, render_views

    source = task["source"]
    try:
        key = json.dumps([task["renderer"], task["renderer_options"]], sort_keys=True)
        if key not in _RENDERERS:
            _RENDERERS[key] = get_renderer(task["renderer"], **task["renderer_options"])
        mesh = load_mesh(source["mesh"], task.get("up", "y")) if "mesh" in source else \
            sculpture(task["seed"], source["procedural"], families=task.get("families"))
        views = render_views(mesh, task["views"], task["resolution"], renderer=_RENDERERS[key],
                             seed=task["object_seed"], margin=task["margin"])
        pairs, offsets, uv_src, uv_tgt = all_pair_correspondences(views, task["max_corr"], task["object_seed"])
        write_object(task["root"], ObjectRecord(
            object_id=task["object_id"],
            images=np.stack([v.image for v in views]), masks=np.stack([v.mask for v in views]),
            depth=np.stack([v.depth for v in views]),
            world_to_camera=np.stack([v.world_to_camera for v in views]),
            affine=np.stack([v.affine for v in views]),
            pairs=pairs, pair_offsets=offsets, uv_src=uv_src, uv_tgt=uv_tgt))
        return {"object_id": task["object_id"], "ok": True, "correspondences": int(offsets[-1])}
    except Exception as exc:  # a batch job records any per-object failure and goes on
        reason = first_line(exc)
        if not isinstance(exc, PointkitError):
            reason = f"{type(exc).__name__}: {reason}"
        return {"object_id": task["object_id"], "ok": False, "reason": reason}


def _run(tasks: list[dict], workers: int) -> Iterator[dict]:
    if workers <= 1:
        yield from map(_render_object, tasks)
        return
    # spawn, not fork: renderers (open3d, bpy) hold threads and state that fork does not copy safely.
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        yield from pool.imap_unordered(_render_object, tasks)


def _check_job(shard, preset: str, views: int | None, resolution: int, renderer: str, renderer_options, families,
               up: str) -> tuple[tuple[int, int] | None, int, list[str] | None]:
    """Refuse bad ``build_dataset`` options before any work; returns (shard, views per object, families)."""
    from pointkit.render.mesh import UP_AXES
    from pointkit.render.presets import PRESETS
    from pointkit.render.procedural import check_families
    from pointkit.render.views import get_renderer

    shard = parse_shard(shard) if isinstance(shard, str) else shard
    if shard is not None and not 0 <= shard[0] < shard[1]:
        raise PointkitError(f"shard {shard}: need 0 <= i < n")
    if preset not in PRESETS:
        raise PointkitError(f"unknown preset {preset!r}: choose one of {', '.join(PRESETS)}")
    if resolution < 8:
        raise PointkitError(f"resolution {resolution} is too small; use at least 8")
    num_views = PRESETS[preset].num_views if views is None else int(views)
    if num_views < 2:
        raise PointkitError(f"--views {num_views}: correspondences need at least 2 views per object")
    get_renderer(renderer, **(renderer_options or {}))  # a bad name or option fails here, not once per object
    try:
        families = list(check_families(families)) if families else None
    except ValueError as exc:
        raise PointkitError(f"--families: {exc}") from None
    if up not in UP_AXES:
        raise PointkitError(f"--up {up!r}: use one of {', '.join(UP_AXES)}")
    return shard, num_views, families


def _check_job_memory(num_views: int, resolution: int, max_corr: int, workers: int,
                      max_memory_gb: float | None) -> None:
    """Refuse a job whose memory estimate (``pointkit.memory.render_job_bytes``) is over the limit."""
    from pointkit.memory import check_memory, render_job_bytes

    what = f"render-synthetic --views {num_views} --resolution {resolution}"
    what += f" --max-corr {max_corr}" if max_corr > 0 else " --max-corr 0 (all)"
    what += f" --workers {workers}" if workers > 1 else ""
    check_memory(render_job_bytes(num_views, resolution, max_corr, max(1, workers)), what, max_memory_gb)


def _remove_stale_temporaries(root: Path, object_ids: set[str]) -> None:
    """Remove the temporary files a killed (``kill -9``) earlier run left for this run's objects
    (``.<id>.npz.tmp-*``: ``atomic_path``'s names); other shards' objects are not touched."""
    folder = root / "objects"
    for tmp in folder.glob(".*.npz.tmp-*") if folder.is_dir() else ():
        if tmp.name[1:].split(".npz.tmp-")[0] in object_ids:
            tmp.unlink(missing_ok=True)


def _refuse_other_settings(manifest_path: Path, settings: dict[str, Any]) -> None:
    """Refuse to resume a dataset made with other settings (a procedural job may grow or shrink:
    sculpture i depends only on (seed, i))."""
    if not manifest_path.exists():
        return
    try:
        previous = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError):
        return  # a manifest is rewritten from the object files
    source = settings["source"]
    changed = [k for k in settings if k in previous and previous[k] != settings[k]
               and not (k == "source" and "procedural" in previous[k] and "procedural" in source)]
    if changed:
        raise PointkitError(f"{manifest_path.parent} was made with other settings ({', '.join(changed)}); "
                            "use a new --out folder or the original options")


def build_dataset(out: str | Path, meshes: str | Path | None = None, procedural: int | None = None,
                  preset: str = "sketchfab", views: int | None = None, resolution: int = DEFAULT_RESOLUTION,
                  renderer: str = "fast", seed: int = 0, workers: int = 1, shard: tuple[int, int] | str | None = None,
                  max_corr: int = DEFAULT_MAX_CORR, renderer_options: dict[str, Any] | None = None,
                  margin: float | None = None, families: list[str] | None = None,
                  progress: bool = True, up: str = "y", max_memory_gb: float | None = None) -> dict[str, Any]:
    """Render a dataset of meshes or procedural sculptures (resumable, shardable).

    Args:
        out: dataset folder (created; an existing one made with the same settings is resumed).
        meshes: a folder searched recursively for OBJ / PLY / STL / OFF / GLB / glTF files; or
        procedural: the number of procedural sculptures (indices 0 .. N-1 under ``seed``).
        preset: "sketchfab" or "shapenet" (pointkit.render.presets).
        views: views per object (overrides the preset's count).
        resolution: R for R x R images.
        renderer: a registered renderer name ("fast", "blender").
        seed: the job seed: sculptures, per-object appearance and views, splits, subsets.
        workers: processes rendering objects in parallel.
        shard: (i, n) or "i/n": this run does objects i, i + n, i + 2n ... of the sorted list.
        max_corr: correspondences kept per ordered view pair; 0 or -1 keeps all.
        renderer_options: keyword options of the renderer (e.g. {"samples": 16} for Blender).
        margin: camera framing margin (default pointkit.geometry.DEFAULT_MARGIN).
        families: procedural sculptures only from these families (default all, with
            ``pointkit.render.procedural.WEIGHTS``).
        up: the up axis of the mesh files ("y", or "z" for Z-up scans; ``load_mesh``).
        progress: show a tqdm bar (views/s) on stderr.
        max_memory_gb: refuse the job when its memory estimate is over this (default
            ``pointkit.memory.default_limit_gb()``: a share of the machine's memory).

    Returns:
        A summary: out, manifest, objects, rendered, skipped, failed, views, seconds, views_per_s.

    Raises:
        PointkitError: bad options, a memory estimate over ``max_memory_gb``, or ``out`` holds a
            dataset made with other settings.
    """
    from tqdm import tqdm

    from pointkit import __version__
    from pointkit.data.format import manifest_name, object_path, write_manifest
    from pointkit.geometry.camera import CAMERA_DISTANCE, DEFAULT_MARGIN
    from pointkit.render.presets import preset_views

    shard, num_views, families = _check_job(shard, preset, views, resolution, renderer, renderer_options, families, up)
    max_corr = int(max_corr) if max_corr and max_corr > 0 else 0
    _check_job_memory(num_views, int(resolution), max_corr, int(workers), max_memory_gb)
    all_tasks, source = object_sources(meshes, procedural)
    splits = job_splits([oid for oid, _ in all_tasks], seed)   # of the whole job: every shard agrees
    if shard is not None:
        all_tasks = all_tasks[shard[0]::shard[1]]
    root = Path(out)
    _remove_stale_temporaries(root, {oid for oid, _ in all_tasks})
    settings = {
        "generator": "pointkit render-synthetic", "source": source, "preset": preset, "num_views": num_views,
        "resolution": int(resolution), "renderer": renderer, "renderer_options": renderer_options or {},
        "seed": int(seed), "max_corr": max_corr, "margin": DEFAULT_MARGIN if margin is None else float(margin),
        "camera_distance": CAMERA_DISTANCE, "split_fractions": SPLIT_FRACTIONS,
        "shard": list(shard) if shard else None,
    }
    if families:  # recorded only when given, so older manifests keep matching
        settings["families"] = families
    if meshes is not None:  # (older manifests have no "up": they keep matching)
        settings["up"] = up
    manifest_path = root / manifest_name(shard)
    _refuse_other_settings(manifest_path, settings)

    objects: dict[str, dict] = {}
    failures: list[dict] = []
    todo = []
    for object_id, src in all_tasks:
        oseed = object_seed(seed, object_id)
        entry = {"split": splits[object_id], "source": src, "seed": oseed,
                 "views": [list(v) for v in preset_views(preset, num_views, oseed)]}
        if object_path(root, object_id).exists():
            objects[object_id] = entry
        else:
            todo.append(({"root": str(root), "object_id": object_id, "source": src, "views": entry["views"],
                          "resolution": int(resolution), "renderer": renderer,
                          "renderer_options": renderer_options or {}, "seed": int(seed), "object_seed": oseed,
                          "max_corr": max_corr, "margin": settings["margin"], "families": families, "up": up},
                         entry))
    skipped = len(objects)

    def save() -> None:
        write_manifest(root, {**settings, "pointkit_version": __version__, "objects": dict(sorted(objects.items())),
                              "failures": sorted(failures, key=lambda f: f["object"])}, shard)

    root.mkdir(parents=True, exist_ok=True)
    entries = {task["object_id"]: (task, entry) for task, entry in todo}
    start, last_save, rendered = time.perf_counter(), 0.0, 0
    bar = tqdm(total=len(todo) * num_views, unit="view", desc="render", disable=not progress, smoothing=0.1)
    try:
        for result in _run([t for t, _ in todo], workers):
            task, entry = entries[result["object_id"]]
            if result["ok"]:
                objects[task["object_id"]] = entry
                rendered += 1
            else:
                log.warning("%s failed: %s", task["object_id"], result["reason"])
                failures.append({"object": task["object_id"], "source": task["source"], "reason": result["reason"]})
            bar.update(num_views)
            if time.perf_counter() - last_save > MANIFEST_EVERY_S:
                save()
                last_save = time.perf_counter()
    finally:
        bar.close()
        save()
    seconds = time.perf_counter() - start
    return {"out": str(root), "manifest": str(manifest_path), "objects": len(all_tasks), "rendered": rendered,
            "skipped": skipped, "failed": len(failures), "views": rendered * num_views,
            "seconds": round(seconds, 3), "views_per_s": round(rendered * num_views / seconds, 2) if seconds else 0.0}
