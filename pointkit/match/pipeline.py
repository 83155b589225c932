"""Folder of photo clusters -> correspondence dataset (``pointkit match``). See docs/matching.md.

PHOTOS/<cluster>/<image> -> one dataset object per cluster: every unordered pair of its images is
matched (by the ``pointkit.matchers`` plugin ``settings.matcher``; built in: SIFT, mutual nearest
neighbours + ratio test), filtered by the affine fundamental matrix
(seeded RANSAC + Gold Standard refit) and dropped when a 2D affine map explains it (Torr's GRIC).
Kept pairs are stored in both directions, in the letterboxed R x R frame of the stored images.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import logging
import shutil
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pointkit import __version__
from pointkit.data.format import ObjectRecord, check_object_id, object_id_from, write_manifest, write_object
from pointkit.data.splits import assign_splits
from pointkit.errors import PointkitError
from pointkit.imaging import IMAGE_SUFFIXES
from pointkit.io import write_bytes_atomic, write_json_atomic
from pointkit.jobs.settings import CONFIG_FILE, load_saved, save
from pointkit.masks import grabcut_mask
from pointkit.match.features import Features, read_image, read_mask
from pointkit.match.pair_cache import PairCache, pair_seed, photo_digest
from pointkit.match.pairs import PairResult, match_pair
from pointkit.match.settings import MatchJob, MatchSettings

log = logging.getLogger(__name__)
SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))


def sanitize_id(name: str, taken: set[str]) -> str:
    """A valid, unique object id from a cluster folder name (other characters become '_')."""
    base = object_id_from(name, fallback="cluster")
    object_id, k = base, 2
    while object_id in taken:
        object_id, k = f"{base}-{k}", k + 1
    taken.add(check_object_id(object_id))
    return object_id


def _cluster_u(cluster: str) -> float:
    """A cluster's number in [0, 1): CRC-32 of its UTF-8 name mod 1000, in whole per mille."""
    return (zlib.crc32(cluster.encode()) % 1000) / 1000


def split_of(cluster: str) -> str:
    """A cluster's split by its name alone: [0, 0.8) train, [0.8, 0.9) val, [0.9, 1) test of
    ``_cluster_u`` (what ``cluster_splits`` gives it unless a job is too small to fill every split)."""
    return assign_splits({cluster: _cluster_u(cluster)}, dict(SPLITS))[cluster]


def cluster_splits(clusters: list[str]) -> dict[str, str]:
    """The split of every cluster of a job (``pointkit.data.splits.assign_splits``)."""
    return assign_splits({c: _cluster_u(c) for c in clusters}, dict(SPLITS))


def letterbox_transform(size: tuple[int, int], resolution: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """Scale and offset putting a (W, H) photo centred in an R x R square, aspect kept.

    Returns ``scale`` (2,), ``offset`` (2,) and the resized (w, h): stored ``uv = uv_orig * scale + offset``
    (exact for the corner-origin pixel convention; scale is per axis after rounding w, h).
    """
    w, h = size
    s = resolution / max(w, h)
    rw, rh = max(1, round(w * s)), max(1, round(h * s))
    ox, oy = (resolution - rw) // 2, (resolution - rh) // 2
    return np.array([rw / w, rh / h]), np.array([float(ox), float(oy)]), (rw, rh)


def _letterbox(rgb: np.ndarray, mask: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray, dict]:
    h, w = rgb.shape[:2]
    scale, offset, (rw, rh) = letterbox_transform((w, h), resolution)
    ox, oy = int(offset[0]), int(offset[1])
    img = np.zeros((resolution, resolution, 3), np.uint8)
    msk = np.zeros((resolution, resolution), bool)
    img[oy : oy + rh, ox : ox + rw] = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA)
    msk[oy : oy + rh, ox : ox + rw] = cv2.resize(mask.astype(np.uint8), (rw, rh), interpolation=cv2.INTER_NEAREST) > 0
    return img, msk, {"size": [w, h], "scale": scale.tolist(), "offset": offset.tolist()}


def list_clusters(photos: Path) -> list[tuple[str, list[Path]]]:
    """Sorted (cluster name, sorted image paths) for each sub-folder of ``photos``."""
    if not photos.is_dir():
        raise PointkitError(f"{photos}: not a folder; PHOTOS must hold one sub-folder of images per object")
    clusters = []
    for d in sorted(p for p in photos.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        clusters.append((d.name, files))
    if not clusters:
        raise PointkitError(f"{photos}: no sub-folders; put each object's photos in its own sub-folder")
    return clusters


def _find_mask(mask_dir: Path, cluster: str, image: Path) -> Path | None:
    for folder in (mask_dir / cluster, mask_dir):
        hits = (
            sorted(p for p in folder.glob(f"{image.stem}.*") if p.suffix.lower() in IMAGE_SUFFIXES)
            if folder.is_dir()
            else []
        )
        if hits:
            return hits[0]
    return None


def photo_mask(rgb: np.ndarray) -> np.ndarray:
    """``--masks auto``: GrabCut (pointkit.masks) with a wider background frame than lift's (4 %: a
    photo collection's object is framed loosely) at 320 px; the whole image when it finds no
    object. (H, W, 3) uint8 -> (H, W) bool."""
    mask = grabcut_mask(rgb, work_side=320, border=0.04)
    return mask if mask.any() else np.ones(rgb.shape[:2], bool)


def _prepare_view(path: Path, cluster: str, s: MatchSettings, matcher) -> tuple[np.ndarray, np.ndarray, Features, str]:
    """(rgb, mask, features, digest) of one photo; the digest (``pair_cache.photo_digest``) keys
    and seeds its pairs."""
    rgb, mpath = read_image(path), None
    if s.masks == "none":
        mask = np.ones(rgb.shape[:2], bool)
    elif s.masks == "auto":
        mask = photo_mask(rgb)
    else:
        mpath = _find_mask(Path(s.masks), cluster, path)
        if mpath is None:
            raise PointkitError(f"{path}: no mask named {path.stem}.* in {s.masks} (or its {cluster}/ sub-folder)")
        mask = read_mask(mpath, rgb.shape[:2])
    feats = matcher.detect(rgb, None if s.masks == "none" else mask)
    return rgb, mask, feats, photo_digest(path, mpath)


def _preview(images: np.ndarray, pairs: list[tuple[int, int, PairResult]], uv: dict, title: str) -> bytes:
    """PNG of up to 3 pairs (most inliers first) side by side, up to 40 matches drawn each."""
    r = images.shape[1]
    rows = []
    for i, j, res in sorted(pairs, key=lambda p: -p[2].inliers)[:3]:
        canvas = np.concatenate([images[i], images[j]], axis=1)[..., ::-1].copy()
        colour = (0, 200, 0) if res.kept else (0, 0, 230)
        if res.kept:
            a, b = uv[(i, j)]
            pick = np.linspace(0, len(a) - 1, min(40, len(a))).astype(int)
            for (u0, v0), (u1, v1) in zip(a[pick], b[pick]):
                # cv2 draws at integer pixel centres: our (u, v) -> (u - 0.5, v - 0.5); 4 bits of subpixel.
                p0 = (int(round((u0 - 0.5) * 16)), int(round((v0 - 0.5) * 16)))
                p1 = (int(round((u1 - 0.5 + r) * 16)), int(round((v1 - 0.5) * 16)))
                cv2.line(canvas, p0, p1, colour, 1, cv2.LINE_AA, shift=4)
        label = f"{i}-{j}: {res.reason} ({res.inliers}/{res.matches})"
        cv2.putText(canvas, label[:60], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
        rows.append(canvas)
    sheet = np.concatenate(rows, axis=0)
    cv2.putText(sheet, title[:40], (4, sheet.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    return cv2.imencode(".png", sheet)[1].tobytes()


def _refuse_other_dataset(out: Path) -> bool:
    """Refuse an ``out`` that holds a dataset not written by ``pointkit match`` (its manifest would
    be overwritten) or another job's config.json. Returns whether ``out`` holds an earlier match run."""
    manifest = out / "manifest.json"
    generator = None
    if manifest.is_file():
        try:
            generator = json.loads(manifest.read_text()).get("generator")
        except (OSError, ValueError, AttributeError):
            raise PointkitError(f"{out} holds an unreadable manifest.json; choose a new --out") from None
        if generator != "pointkit match":
            raise PointkitError(
                f"{out} holds a dataset made by {generator or 'another tool'}; matching would "
                "overwrite its manifest; choose a new --out"
            )
    return load_saved(out, "match") is not None or generator == "pointkit match"


def _check_job(photos: Path, out: Path, s: MatchSettings) -> tuple[list[tuple[str, list[Path]]], Any, bool]:
    """What is refused before any work: the masks folder, ``out`` (``_refuse_other_dataset``), the
    matcher, the clusters. Returns (clusters, matcher, whether ``out`` holds an earlier match run)."""
    if s.masks not in ("none", "auto") and not Path(s.masks).is_dir():
        raise PointkitError(f"--masks {s.masks}: not a folder; use none, auto, or a folder of masks")
    ours = _refuse_other_dataset(out)
    matcher = s.load_matcher()
    return list_clusters(photos), matcher, ours


def _manifest_header(photos: Path, s: MatchSettings) -> dict[str, Any]:
    """The manifest's keys other than ``objects`` and ``failures``."""
    return {
        "kind": "matched",
        "generator": "pointkit match",
        "pointkit_version": __version__,
        "source": {"photos": str(photos.resolve())},
        "split_fractions": dict(SPLITS),
        "resolution": s.resolution,
        "settings": s.as_dict(),
        "pairs_stored": "both directions: (s, t) and (t, s) for each kept pair",
        "pair_test": "gric",
    }


def _start_fresh(out: Path, header: dict[str, Any], ours: bool) -> None:
    """No state carries over between runs: remove what an earlier match run left in ``out``
    (objects, previews, reports, config.json), then write a manifest of no objects, so a run
    that is killed leaves an empty dataset that the next run recognises as match's."""
    if ours:
        for folder in ("objects", "previews"):
            if (out / folder).is_dir():
                shutil.rmtree(out / folder)
        for name in ("report.json", "report.csv", CONFIG_FILE):
            (out / name).unlink(missing_ok=True)
    write_manifest(out, {**header, "objects": {}, "failures": []})


@dataclass
class _Job:
    """One run of ``build_matched_dataset``: its inputs and what it has found so far."""

    photos: Path
    out: Path
    s: MatchSettings
    matcher: Any
    bar: Any
    cache: PairCache | None
    objects: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    report: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, object_id: str, cluster: str, reason: str) -> None:
        self.failures.append(
            {"object": object_id, "source": str(self.photos / cluster), "cluster": cluster, "reason": reason}
        )


def _read_views(
    pool,
    files: list[Path],
    cluster: str,
    object_id: str,
    s: MatchSettings,
    matcher,
    bar,
    failures: list[dict[str, Any]],
) -> list[tuple]:
    """(path, *prepared view) of each readable photo of a cluster, read in ``pool``; unreadable
    ones are logged and listed in ``failures``."""

    def prepare(path: Path):
        try:
            return path, _prepare_view(path, cluster, s, matcher), None
        except PointkitError as exc:
            return path, None, str(exc)
        except cv2.error as exc:  # e.g. a degenerate image OpenCV cannot process
            return path, None, f"{path}: OpenCV failed ({str(exc).strip().splitlines()[-1]})"

    views = []
    for path, view, error in pool.map(prepare, files):
        bar.update(1)
        if error is not None:
            log.warning("%s", error)
            failures.append(
                {"object": object_id, "source": str(path), "cluster": cluster, "file": path.name, "reason": error}
            )
        else:
            views.append((path, *view))
    return views


def _stored_pairs(results: list[tuple], meta: list[dict]) -> tuple[list, list, list, dict]:
    """The kept pairs of a cluster in the stored (letterboxed) frame, both directions:
    (pairs, uv_src list, uv_tgt list, {(i, j): (uv_i, uv_j)})."""
    pairs, uv_s, uv_t, uv = [], [], [], {}
    for i, j, res in results:
        if not res.kept:
            continue
        a = (res.uv_src * meta[i]["scale"] + meta[i]["offset"]).astype(np.float32)
        b = (res.uv_tgt * meta[j]["scale"] + meta[j]["offset"]).astype(np.float32)
        uv[(i, j)] = (a, b)
        pairs += [(i, j), (j, i)]
        uv_s += [a, b]
        uv_t += [b, a]
    return pairs, uv_s, uv_t, uv


def _match_view_pair(
    views: list[tuple], s: MatchSettings, matcher, cache: PairCache | None, ij: tuple[int, int]
) -> tuple:
    """(i, j, PairResult) of views i < j: from ``cache`` when it holds the pair, else matched (and
    stored there)."""
    i, j = ij
    (*_, fa, da), (*_, fb, db) = views[i], views[j]
    key = cache.key(da, db) if cache is not None else None
    if cache is not None and (found := cache.get(key, PairResult)) is not None:
        return i, j, found
    result = match_pair(fa, fb, s, np.random.default_rng(pair_seed(s.seed, da, db)), matcher)
    if cache is not None:
        cache.put(key, result)
    return i, j, result


def _match_pairs(pool, views: list[tuple], s: MatchSettings, matcher, cache: PairCache | None, bar) -> list[tuple]:
    """(i, j, PairResult) of every unordered pair of a cluster's views, matched in ``pool``. A
    pair's RANSAC is seeded by the seed and its two photos (``pair_cache.pair_seed``): results do
    not depend on the threads, nor on the other photos in the folder."""
    run = functools.partial(_match_view_pair, views, s, matcher, cache)
    results = []
    for result in pool.map(run, [(i, j) for i in range(len(views)) for j in range(i + 1, len(views))]):
        bar.update(1)
        results.append(result)
    return results


def _store_cluster(
    job: _Job, cluster: str, object_id: str, split: str, views: list[tuple], results: list[tuple]
) -> None:
    """Letterbox a cluster's views, report its pairs, write its preview and, when a pair was kept,
    its object file and manifest entry."""
    boxed = [_letterbox(rgb, mask, job.s.resolution) for _, rgb, mask, _, _ in views]
    images, masks = np.stack([b[0] for b in boxed]), np.stack([b[1] for b in boxed])
    meta = [{"file": p.name, **b[2]} for (p, *_), b in zip(views, boxed)]
    job.report += [
        {
            "cluster": cluster,
            "object_id": object_id,
            "src": views[i][0].name,
            "tgt": views[j][0].name,
            "matches": res.matches,
            "inliers": res.inliers,
            "affine_map_inliers": res.affine_map_inliers,
            "sigma": res.sigma,
            "gric_f": res.gric_f,
            "gric_h": res.gric_h,
            "kept": res.kept,
            "reason": res.reason,
        }
        for i, j, res in results
    ]
    pairs, uv_s, uv_t, uv = _stored_pairs(results, meta)
    if results:
        write_bytes_atomic(job.out / "previews" / f"{object_id}.png", _preview(images, results, uv, cluster))
    if not pairs:
        job.fail(object_id, cluster, "no pair kept (see report.json for each pair's reason)")
        return
    counts = [len(x) for x in uv_s]
    write_object(
        job.out,
        ObjectRecord(
            object_id=object_id,
            images=images,
            masks=masks,
            pairs=np.array(pairs, np.int32),
            pair_offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            uv_src=np.concatenate(uv_s),
            uv_tgt=np.concatenate(uv_t),
        ),
    )
    job.objects[object_id] = {
        "split": split,
        "cluster": cluster,
        "views": meta,
        "pairs": len(pairs),
        "correspondences": int(sum(counts)),
    }


def _match_cluster(job: _Job, pool, cluster: str, files: list[Path], object_id: str, split: str) -> None:
    """Read, match and store one cluster, or list under the job's failures why it was not."""
    views = _read_views(pool, files, cluster, object_id, job.s, job.matcher, job.bar, job.failures)
    listed = len(files) * (len(files) - 1) // 2
    if len(views) < 2:
        job.bar.update(listed)
        job.fail(
            object_id,
            cluster,
            f"fewer than 2 readable images ({len(views)}); a cluster needs at least 2 photos of the object",
        )
        return
    results = _match_pairs(pool, views, job.s, job.matcher, job.cache, job.bar)
    job.bar.update(listed - len(results))
    _store_cluster(job, cluster, object_id, split, views, results)


def _finish(job: _Job, header: dict[str, Any]) -> dict[str, Any]:
    """Write the report, the manifest and ``config.json``; return the summary."""
    write_json_atomic(job.out / "report.json", job.report)
    write_bytes_atomic(job.out / "report.csv", _csv(job.report))
    write_manifest(job.out, {**header, "objects": job.objects, "failures": job.failures})
    save(MatchJob(photos=str(job.photos), out=str(job.out), **job.s.as_dict()), job.out, "match")
    kept = sum(r["kept"] for r in job.report)
    why = Counter(r["reason"] for r in job.report if not r["kept"]) + Counter(f["reason"] for f in job.failures)
    return {
        "out": str(job.out),
        "objects": len(job.objects),
        "pairs_kept": kept,
        "pairs_rejected": len(job.report) - kept,
        "failures": len(job.failures),
        "reasons": dict(why.most_common()),
        **({"pairs_from_cache": job.cache.hits} if job.cache is not None else {}),
    }


def build_matched_dataset(
    photos: str | Path,
    out: str | Path,
    settings: MatchSettings | None = None,
    progress: bool = True,
    cache: str | Path | None = None,
) -> dict[str, Any]:
    """Match every pair inside each cluster of ``photos`` and write a dataset to ``out``.

    Writes ``out/objects/<id>.npz`` (one per cluster with a kept pair), ``out/manifest.json``
    (kind "matched"), ``out/report.json`` + ``out/report.csv`` (one row per pair),
    ``out/previews/<id>.png`` and, when the run completes, ``out/config.json`` (the job's
    ``MatchJob``). Unreadable images and clusters without a kept pair are listed under the
    manifest's "failures" and skipped. An ``out`` holding another tool's dataset is refused; what
    an earlier match run left there is removed first. ``cache``: a folder of pair results
    (:mod:`pointkit.match.pair_cache`) read and added to: a pair matched before is not matched
    again, and the dataset is the same as without it.

    Returns:
        Summary: ``{"out", "objects", "pairs_kept", "pairs_rejected", "failures", "reasons"}``, and
        with ``cache`` ``"pairs_from_cache"``: the pairs not matched again.
    """
    from tqdm import tqdm

    s = settings or MatchSettings()
    s.check()
    photos, out = Path(photos), Path(out)
    clusters, matcher, ours = _check_job(photos, out, s)
    header = _manifest_header(photos, s)
    _start_fresh(out, header, ours)
    total = sum(len(f) + len(f) * (len(f) - 1) // 2 for _, f in clusters)
    bar = tqdm(total=total, desc="match", unit="step", disable=not progress)
    job = _Job(photos, out, s, matcher, bar, PairCache(cache, s.as_dict()) if cache is not None else None)
    splits, taken = cluster_splits([c for c, _ in clusters]), set()
    with ThreadPoolExecutor(max_workers=s.workers) as pool:
        for cluster, files in clusters:
            _match_cluster(job, pool, cluster, files, sanitize_id(cluster, taken), splits[cluster])
    job.bar.close()
    return _finish(job, header)


def _csv(rows: list[dict[str, Any]]) -> bytes:
    cols = [
        "cluster",
        "object_id",
        "src",
        "tgt",
        "matches",
        "inliers",
        "affine_map_inliers",
        "sigma",
        "gric_f",
        "gric_h",
        "kept",
        "reason",
    ]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode()
