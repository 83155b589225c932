"""Read and write the pointkit dataset format (version 1). See docs/dataset-format.md.

A dataset is a folder::

    DATASET/
      manifest.json            (or manifest-shard-I-of-N.json, one per shard; read as one dataset)
      objects/<object_id>.npz  one file per object, written atomically (complete or absent)

Each object file holds V views and the correspondences of P ordered view pairs:

    images           (V, H, W, 3) uint8
    masks            (V, H, W)    bool      object pixels
    depth            (V, H, W)    float32   optional; camera z, 0 off the object
    world_to_camera  (V, 3, 4)    float64   optional
    affine           (V, 2, 4)    float64   optional; world -> pixel
    pairs            (P, 2)       int32     (source view, target view)
    pair_offsets     (P + 1,)     int64     correspondences of pair p: [offsets[p], offsets[p+1])
    uv_src, uv_tgt   (M, 2)       float32   pixel coordinates (u right, v down, centres at i + 0.5)
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from pointkit.errors import PointkitError
from pointkit.io import write_json_atomic, write_npz_atomic

FORMAT_NAME = "pointkit-dataset"
FORMAT_VERSION = 1
_OBJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
REQUIRED_KEYS = ("images", "masks", "pairs", "pair_offsets", "uv_src", "uv_tgt")
OPTIONAL_KEYS = ("depth", "world_to_camera", "affine")


def check_object_id(object_id: str) -> str:
    """Object ids are plain file-name stems: no separators, no '..', so paths cannot escape."""
    if not _OBJECT_ID.match(object_id) or ".." in object_id:
        raise PointkitError(f"invalid object id {object_id!r}: use letters, digits, '.', '_' or '-'")
    return object_id


def object_id_from(name: str, fallback: str = "object") -> str:
    """The one id rule: a valid object id from any name (a cluster folder, a mesh path with '/'
    written as '--'): characters outside [A-Za-z0-9._-] -> '_', '..' -> '_', leading '.', '_', '-'
    dropped, at most 120 characters (room for a '-N' suffix); ``fallback`` when nothing is left."""
    base = re.sub(r"[^A-Za-z0-9._-]", "_", name).replace("..", "_").lstrip("._-")[:120] or fallback
    return check_object_id(base)


def object_path(root: str | Path, object_id: str) -> Path:
    return Path(root) / "objects" / f"{check_object_id(object_id)}.npz"


@dataclass
class StoredView:
    """One stored view: image (H, W, 3) uint8, mask (H, W) bool, depth (H, W) float32,
    world_to_camera (3, 4) and affine (2, 4) float64."""

    image: np.ndarray
    mask: np.ndarray
    depth: np.ndarray
    world_to_camera: np.ndarray
    affine: np.ndarray


@dataclass
class ObjectRecord:
    """One object's views and pair correspondences, as numpy arrays (shapes in the module doc)."""

    object_id: str
    images: np.ndarray
    masks: np.ndarray
    pairs: np.ndarray
    pair_offsets: np.ndarray
    uv_src: np.ndarray
    uv_tgt: np.ndarray
    depth: np.ndarray | None = None
    world_to_camera: np.ndarray | None = None
    affine: np.ndarray | None = None

    @property
    def num_views(self) -> int:
        return int(self.images.shape[0])

    def view(self, index: int) -> "StoredView":
        """View ``index`` as an object with ``image``, ``mask``, ``depth``, ``world_to_camera`` and
        ``affine`` (what ``pointkit.geometry.gt_correspondences`` takes)."""
        if self.depth is None or self.world_to_camera is None or self.affine is None:
            raise PointkitError(f"{self.object_id}: the dataset stores no depth and cameras for its views")
        return StoredView(
            self.images[index], self.masks[index], self.depth[index], self.world_to_camera[index], self.affine[index]
        )

    def correspondences(self, pair_index: int) -> tuple[np.ndarray, np.ndarray]:
        """(uv_src, uv_tgt) of one pair, each (K, 2) float32."""
        a, b = int(self.pair_offsets[pair_index]), int(self.pair_offsets[pair_index + 1])
        return self.uv_src[a:b], self.uv_tgt[a:b]


def _validate(arrays: dict[str, np.ndarray], where: str) -> None:
    missing = [k for k in REQUIRED_KEYS if k not in arrays]
    if missing:
        raise PointkitError(f"{where}: missing arrays {missing}; re-create the dataset")
    images, masks = arrays["images"], arrays["masks"]
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise PointkitError(f"{where}: images must be (V, H, W, 3) uint8, got {images.shape} {images.dtype}")
    if masks.shape != images.shape[:3]:
        raise PointkitError(f"{where}: masks {masks.shape} do not match images {images.shape[:3]}")
    if "depth" in arrays and arrays["depth"].shape != images.shape[:3]:
        raise PointkitError(f"{where}: depth {arrays['depth'].shape} does not match images {images.shape[:3]}")
    pairs, offsets = arrays["pairs"], arrays["pair_offsets"]
    if pairs.ndim != 2 or pairs.shape[1] != 2 or offsets.shape != (len(pairs) + 1,):
        raise PointkitError(f"{where}: pairs {pairs.shape} / pair_offsets {offsets.shape} are inconsistent")
    if len(pairs) and (pairs.min() < 0 or pairs.max() >= images.shape[0]):
        raise PointkitError(f"{where}: a pair refers to a view that does not exist")
    m = arrays["uv_src"].shape[0]
    if arrays["uv_tgt"].shape != (m, 2) or offsets[-1] != m or np.any(np.diff(offsets) < 0):
        raise PointkitError(f"{where}: correspondence arrays do not match pair_offsets")


def write_object(root: str | Path, record: ObjectRecord) -> Path:
    """Write one object file atomically (kill -9 leaves either the old state or the new file)."""
    arrays = {k: getattr(record, k) for k in REQUIRED_KEYS + OPTIONAL_KEYS if getattr(record, k) is not None}
    arrays["images"] = np.ascontiguousarray(arrays["images"], dtype=np.uint8)
    arrays["masks"] = arrays["masks"].astype(bool)
    arrays["pairs"] = np.asarray(arrays["pairs"], np.int32).reshape(-1, 2)
    arrays["pair_offsets"] = np.asarray(arrays["pair_offsets"], np.int64)
    for k in ("uv_src", "uv_tgt"):
        arrays[k] = np.asarray(arrays[k], np.float32).reshape(-1, 2)
    if "depth" in arrays:
        arrays["depth"] = arrays["depth"].astype(np.float32)
    _validate(arrays, record.object_id)
    path = object_path(root, record.object_id)
    write_npz_atomic(path, **arrays)
    return path


@contextlib.contextmanager
def _open_object_file(path: Path) -> Iterator[Any]:
    """The open npz of an object file; a missing or broken file (also while reading it) is a PointkitError."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            yield npz
    except FileNotFoundError:
        raise PointkitError(f"{path}: object file is missing; re-run the command that made the dataset") from None
    except Exception as exc:
        raise PointkitError(f"{path}: unreadable object file ({exc}); delete it and re-run to resume") from None


def read_object(root: str | Path, object_id: str) -> ObjectRecord:
    path = object_path(root, object_id)
    with _open_object_file(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    _validate(arrays, str(path))
    return ObjectRecord(object_id=object_id, **{k: arrays[k] for k in arrays if k in REQUIRED_KEYS + OPTIONAL_KEYS})


@dataclass
class ObjectSummary:
    """One object file without its images: ``shape`` (V, H, W) of the views, correspondences per
    pair ``counts`` (P,) and whether it has ``depth``."""

    shape: tuple[int, int, int]
    counts: np.ndarray
    has_depth: bool


def summarize_object(root: str | Path, object_id: str) -> ObjectSummary:
    """Read only ``masks`` and ``pair_offsets`` of an object file (errors as :func:`read_object`)."""
    with _open_object_file(object_path(root, object_id)) as npz:
        return ObjectSummary(tuple(npz["masks"].shape), np.diff(npz["pair_offsets"]), "depth" in npz.files)


def manifest_name(shard: tuple[int, int] | None = None) -> str:
    """``manifest.json``, or ``manifest-shard-I-of-N.json`` for shard I (0-based) of N."""
    return "manifest.json" if shard is None else f"manifest-shard-{shard[0]}-of-{shard[1]}.json"


def write_manifest(root: str | Path, manifest: dict[str, Any], shard: tuple[int, int] | None = None) -> Path:
    """Atomically write a manifest. Required keys are filled in: format, version, objects."""
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "objects": {}, "failures": [], **manifest}
    for object_id in manifest["objects"]:
        check_object_id(object_id)
    path = Path(root) / manifest_name(shard)
    write_json_atomic(path, manifest)
    return path


@dataclass
class Dataset:
    """A dataset folder, its shards merged: ``objects`` maps id -> manifest entry (with ``split``)."""

    root: Path
    manifests: list[dict[str, Any]]
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def open(cls, root: str | Path) -> "Dataset":
        root = Path(root)
        if not root.is_dir():
            raise PointkitError(f"{root}: not a dataset folder (it does not exist or is a file)")
        paths = sorted(root.glob("manifest*.json"))
        if not paths:
            raise PointkitError(
                f"{root}: no manifest.json; make a dataset with `pointkit render-synthetic` or `pointkit match`"
            )
        manifests = []
        for p in paths:
            try:
                m = json.loads(p.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise PointkitError(f"{p}: corrupt manifest ({exc})") from None
            if m.get("format") != FORMAT_NAME:
                raise PointkitError(f"{p}: not a pointkit dataset manifest")
            if m.get("version", 0) > FORMAT_VERSION:
                raise PointkitError(
                    f"{p}: dataset format v{m.get('version')} is newer than this pointkit (v{FORMAT_VERSION}); upgrade pointkit"
                )
            manifests.append(m)
        ds = cls(root=root, manifests=manifests)
        for m in manifests:
            for object_id, entry in m.get("objects", {}).items():
                check_object_id(object_id)
                ds.objects[object_id] = entry
            ds.failures.extend(m.get("failures", []))
        return ds

    @property
    def manifest(self) -> dict[str, Any]:
        """The first manifest (settings such as preset, resolution, renderer are shared by shards)."""
        return self.manifests[0]

    def split(self, name: str) -> list[str]:
        """Object ids of one split ("train", "val", "test", or "all" for every object), sorted."""
        return sorted(i for i, e in self.objects.items() if name == "all" or e.get("split") == name)

    def read(self, object_id: str) -> ObjectRecord:
        if object_id not in self.objects:
            raise PointkitError(f"{self.root}: no object {object_id!r} in the manifest")
        return read_object(self.root, object_id)
