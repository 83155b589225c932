"""The dataset-building job behind ``pointkit render-synthetic``.

Renders every object (mesh files or procedural sculptures) from its preset views, computes the
ground-truth correspondences of every ordered view pair, and writes the dataset format
(docs/dataset-format.md): one object file per object, written atomically, and a manifest with the
settings, the objects (split, source, seed, views) and the failures. Re-running the same job
resumes: an object whose file exists is not rendered again. ``shard=(i, n)`` takes every n-th
object starting at i and writes ``manifest-shard-i-of-n.json``; the shards read as one dataset.

The job's settings are a :class:`~pointkit.render.config.RenderConfig` (saved as ``config.json``);
``build_dataset`` composes the steps: ``plan_dataset`` (every check, nothing written),
``render_plan`` (the objects, the manifest).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from tqdm import tqdm

from pointkit import __version__
from pointkit.data.format import ObjectRecord, manifest_name, object_id_from, object_path, write_manifest, write_object
from pointkit.data.splits import assign_splits
from pointkit.errors import PointkitError, first_line
from pointkit.geometry.camera import CAMERA_DISTANCE, DEFAULT_MARGIN
from pointkit.geometry.correspondences import all_pair_correspondences
from pointkit.jobs.settings import save as save_config
from pointkit.memory import check_memory, render_job_bytes
from pointkit.render.config import DEFAULT_MAX_CORR, DEFAULT_RESOLUTION, JOB, RenderConfig, parse_shard  # noqa: F401
from pointkit.render.mesh import MESH_SUFFIXES, load_mesh
from pointkit.render.presets import PRESETS, preset_views
from pointkit.render.procedural import sculpture, sculpture_id, sculpture_kind
from pointkit.render.views import get_renderer, render_views

log = logging.getLogger(__name__)

SPLIT_FRACTIONS = {"train": 0.9, "val": 0.05, "test": 0.05}
MANIFEST_EVERY_S = 2.0


def _hash01(*parts: Any) -> float:
    """A number in [0, 1) from a stable hash of ``parts`` (not Python's salted ``hash``)."""
    digest = hashlib.sha256("/".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2.0**64


def object_seed(seed: int, object_id: str) -> int:
    """The 31-bit seed of one object's views and appearance, from the job seed and its id."""
    return int(_hash01("object", seed, object_id) * 2**31)


def split_of(object_id: str, seed: int, fractions: dict[str, float] = SPLIT_FRACTIONS) -> str:
    """ "train", "val" or "test" of an object by its hash alone (its id and the job seed): what
    ``job_splits`` gives it unless the job is too small to fill every split that way."""
    return assign_splits({object_id: _hash01("split", seed, object_id)}, fractions)[object_id]


def job_splits(object_ids: list[str], seed: int, fractions: dict[str, float] = SPLIT_FRACTIONS) -> dict[str, str]:
    """The split of every object of a job (``pointkit.data.splits.assign_splits``: no empty split
    once there are 3 objects)."""
    return assign_splits({oid: _hash01("split", seed, oid) for oid in object_ids}, fractions)


def mesh_object_id(path: Path, root: Path) -> str:
    """Object id of a mesh file: its path under ``root`` with '/' -> '--', then the one id rule
    (``pointkit.data.format.object_id_from``; ``scans/bunny.obj`` -> ``scans--bunny.obj``)."""
    return object_id_from(path.relative_to(root).as_posix().replace("/", "--"), fallback="mesh")


def object_sources(meshes: str | Path | None, procedural: int | None) -> tuple[list[tuple[str, dict]], dict]:
    """Sorted (object_id, source) of the job and the manifest's description of the source."""
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


_RENDERERS: dict[str, Any] = {}


def _render_object(task: dict) -> dict:
    """Render one object and write its file; returns a result dict (never raises for bad input)."""
    source = task["source"]
    try:
        key = json.dumps([task["renderer"], task["renderer_options"]], sort_keys=True)
        if key not in _RENDERERS:
            _RENDERERS[key] = get_renderer(task["renderer"], **task["renderer_options"])
        mesh = (
            load_mesh(source["mesh"], task.get("up", "y"))
            if "mesh" in source
            else sculpture(task["seed"], source["procedural"], families=task.get("families"))
        )
        views = render_views(
            mesh,
            task["views"],
            task["resolution"],
            renderer=_RENDERERS[key],
            seed=task["object_seed"],
            margin=task["margin"],
        )
        pairs, offsets, uv_src, uv_tgt = all_pair_correspondences(views, task["max_corr"], task["object_seed"])
        write_object(
            task["root"],
            ObjectRecord(
                object_id=task["object_id"],
                images=np.stack([v.image for v in views]),
                masks=np.stack([v.mask for v in views]),
                depth=np.stack([v.depth for v in views]),
                world_to_camera=np.stack([v.world_to_camera for v in views]),
                affine=np.stack([v.affine for v in views]),
                pairs=pairs,
                pair_offsets=offsets,
                uv_src=uv_src,
                uv_tgt=uv_tgt,
            ),
        )
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


def _check_job(config: RenderConfig) -> int:
    """Refuse what the config alone cannot tell is bad (the renderer and its options, the memory
    estimate) before any work; returns the views per object."""
    num_views = PRESETS[config.preset].num_views if config.views is None else config.views
    get_renderer(config.renderer, **config.renderer_options)  # a bad name or option fails here, not once per object
    _check_job_memory(num_views, config.resolution, config.max_corr_kept, config.workers, config.max_memory_gb)
    return num_views


def _check_job_memory(
    num_views: int, resolution: int, max_corr: int, workers: int, max_memory_gb: float | None
) -> None:
    """Refuse a job whose memory estimate (``pointkit.memory.render_job_bytes``) is over the limit."""
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
    changed = [
        k
        for k in settings
        if k in previous
        and previous[k] != settings[k]
        and not (k == "source" and "procedural" in previous[k] and "procedural" in source)
    ]
    if changed:
        raise PointkitError(
            f"{manifest_path.parent} was made with other settings ({', '.join(changed)}); "
            "use a new --out folder or the original options"
        )


@dataclass
class DatasetPlan:
    """A checked job (``plan_dataset``): what is done and what is left; nothing written yet."""

    root: Path
    manifest_path: Path
    settings: dict[str, Any]  # the manifest's settings (a resume must match them)
    objects: dict[str, dict]  # manifest entries of the objects done (their file exists)
    todo: list[tuple[dict, dict]]  # (render task, manifest entry) of the others
    num_views: int
    total: int  # objects of this run (this shard's)


def _manifest_settings(config: RenderConfig, source: dict, num_views: int) -> dict[str, Any]:
    """The settings the manifest records (and a resume into the same folder must match)."""
    settings = {
        "generator": "pointkit render-synthetic",
        "source": source,
        "preset": config.preset,
        "num_views": num_views,
        "resolution": config.resolution,
        "renderer": config.renderer,
        "renderer_options": config.renderer_options,
        "seed": config.seed,
        "max_corr": config.max_corr_kept,
        "margin": DEFAULT_MARGIN if config.margin is None else float(config.margin),
        "camera_distance": CAMERA_DISTANCE,
        "split_fractions": SPLIT_FRACTIONS,
        "shard": list(config.shard) if config.shard else None,
    }
    if config.families:  # recorded only when given, so older manifests keep matching
        settings["families"] = config.families
    if config.meshes is not None:  # (older manifests have no "up": they keep matching)
        settings["up"] = config.up
    return settings


def _object_tasks(
    config: RenderConfig, root: Path, tasks: list[tuple[str, dict]], splits: dict[str, str], settings: dict[str, Any]
) -> tuple[dict[str, dict], list[tuple[dict, dict]]]:
    """Each object's manifest entry; those whose file exists are done, the others get a render task."""
    done, todo = {}, []
    for object_id, src in tasks:
        oseed = object_seed(config.seed, object_id)
        entry = {
            "split": splits[object_id],
            "source": src,
            "seed": oseed,
            "views": [list(v) for v in preset_views(config.preset, settings["num_views"], oseed)],
        }
        if "procedural" in src:  # what made it: sculpture(seed, index, families) rebuilds the mesh
            entry["family"] = sculpture_kind(config.seed, src["procedural"], config.families)
            entry["generator"] = {
                "function": "pointkit.render.procedural.sculpture",
                "seed": config.seed,
                "index": src["procedural"],
                "families": list(config.families) if config.families else None,
            }
        if object_path(root, object_id).exists():
            done[object_id] = entry
            continue
        todo.append(
            (
                {
                    "root": str(root),
                    "object_id": object_id,
                    "source": src,
                    "views": entry["views"],
                    "resolution": config.resolution,
                    "renderer": config.renderer,
                    "renderer_options": config.renderer_options,
                    "seed": config.seed,
                    "object_seed": oseed,
                    "max_corr": settings["max_corr"],
                    "margin": settings["margin"],
                    "families": config.families,
                    "up": config.up,
                },
                entry,
            )
        )
    return done, todo


def plan_dataset(config: RenderConfig) -> DatasetPlan:
    """Check a job and list its objects (this shard's), done or to do; writes nothing.

    Raises:
        PointkitError: a bad renderer or renderer option, a memory estimate over the limit, no
            objects, or ``config.out`` holds a dataset made with other settings.
    """
    num_views = _check_job(config)
    tasks, source = object_sources(config.meshes, config.procedural)
    splits = job_splits([oid for oid, _ in tasks], config.seed)  # of the whole job: every shard agrees
    if config.shard is not None:
        tasks = tasks[config.shard[0] :: config.shard[1]]
    root = Path(config.out)
    settings = _manifest_settings(config, source, num_views)
    manifest_path = root / manifest_name(config.shard)
    _refuse_other_settings(manifest_path, settings)
    done, todo = _object_tasks(config, root, tasks, splits, settings)
    return DatasetPlan(root, manifest_path, settings, done, todo, num_views, len(tasks))


def _write_manifest(plan: DatasetPlan, failures: list[dict]) -> None:
    shard = tuple(plan.settings["shard"]) if plan.settings["shard"] else None
    write_manifest(
        plan.root,
        {
            **plan.settings,
            "pointkit_version": __version__,
            "objects": dict(sorted(plan.objects.items())),
            "failures": sorted(failures, key=lambda f: f["object"]),
        },
        shard,
    )


def render_plan(plan: DatasetPlan, workers: int = 1, progress: bool = True) -> tuple[int, list[dict]]:
    """Render ``plan.todo`` in ``workers`` processes, adding each object to ``plan.objects`` or to
    the failures; the manifest is rewritten every ``MANIFEST_EVERY_S`` and at the end (also on
    Ctrl-C). Returns (objects rendered, failures)."""
    entries = {task["object_id"]: (task, entry) for task, entry in plan.todo}
    failures: list[dict] = []
    last_save, rendered = 0.0, 0
    bar = tqdm(total=len(plan.todo) * plan.num_views, unit="view", desc="render", disable=not progress, smoothing=0.1)
    try:
        for result in _run([t for t, _ in plan.todo], workers):
            task, entry = entries[result["object_id"]]
            if result["ok"]:
                plan.objects[task["object_id"]] = entry
                rendered += 1
            else:
                log.warning("%s failed: %s", task["object_id"], result["reason"])
                failures.append({"object": task["object_id"], "source": task["source"], "reason": result["reason"]})
            bar.update(plan.num_views)
            if time.perf_counter() - last_save > MANIFEST_EVERY_S:
                _write_manifest(plan, failures)
                last_save = time.perf_counter()
    finally:
        bar.close()
        _write_manifest(plan, failures)
    return rendered, failures


def build_dataset(out: str | Path | RenderConfig, **settings: Any) -> dict[str, Any]:
    """Render a dataset of meshes or procedural sculptures (resumable, shardable).

    Args:
        out: a :class:`~pointkit.render.config.RenderConfig`, or the dataset folder (created; an
            existing one made with the same settings is resumed) with
        settings: any other RenderConfig fields (their help says what each is), e.g.
            ``build_dataset("ds", procedural=8, views=3, resolution=64)``; ``renderer_options`` a
            dict, ``shard`` (i, n) or "i/n", ``families`` a list, ``margin`` the framing margin,
            ``max_memory_gb`` the memory limit (default ``pointkit.memory.default_limit_gb()``).

    The config is saved as ``<out>/config.json`` (without ``shard``) once the checks pass.

    Returns:
        A summary: out, manifest, objects, rendered, skipped, failed, views, seconds, views_per_s.

    Raises:
        PointkitError: bad settings, a memory estimate over ``max_memory_gb``, or ``out`` holds a
            dataset made with other settings.
    """
    config = out if isinstance(out, RenderConfig) else RenderConfig(out=out, **settings)
    plan = plan_dataset(config)
    skipped = len(plan.objects)
    _remove_stale_temporaries(plan.root, set(plan.objects) | {task["object_id"] for task, _ in plan.todo})
    plan.root.mkdir(parents=True, exist_ok=True)
    save_config(replace(config, shard=None), plan.root, JOB)  # the same file from every shard
    start = time.perf_counter()
    rendered, failures = render_plan(plan, config.workers, config.progress)
    seconds = time.perf_counter() - start
    views = rendered * plan.num_views
    return {
        "out": str(plan.root),
        "manifest": str(plan.manifest_path),
        "objects": plan.total,
        "rendered": rendered,
        "skipped": skipped,
        "failed": len(failures),
        "views": views,
        "seconds": round(seconds, 3),
        "views_per_s": round(views / seconds, 2) if seconds else 0.0,
    }
