r"""Scoring single-image lifting on real photos with known cameras (benchmarks/real_photos.py).

Real photo sets with ground-truth cameras (Middlebury dinoSparseRing / templeSparseRing, Strecha's
fountain-P11, read in place from ``../shared/data/photos``) give **sparse true depth**: SIFT
matches between an image and its neighbours, kept only when they agree with the true cameras'
epipolar geometry, triangulated, and their depth in the image's camera recorded at their pixel.

A model is then scored at those points, the same way for every model:

* ``coverage``: share of the points inside lift's object mask;
* depth RMSE after least-squares alignment of the predicted depth at the mask points to the true
  depth, ``ls`` (``a d + e``) and ``affine`` (``a d + b u + c v + e``, LiftNet's own ambiguity),
  done here in numpy (:func:`align_points`; :func:`pointkit.metrics.align_depth` works on dense
  maps with a pixel grid, not on scattered points), reported as a **ratio to the flat baseline**
  (a constant depth at the same points aligned the same way: the true depth's std for ``ls``, the
  residual of a plane fit for ``affine``), so 1 = no better than flat, 0 = perfect;
* the same ratios for the **silhouette heuristic** ``-sqrt(distance to the mask boundary)``;
* ``all_{ls,affine}_ratio``: the network's raw depth at **every** point, in the mask or not,
  against flat at the same points. The ratios above are scored on each model's own mask points, so
  two models with different masks are scored on different point sets; this one is the same set for
  every model (it measures depth alone, for frame-filling scenes such as fountain-P11 where the
  whole photo is the object).

Which depth is scored: lift's resolved ``.depth`` (what users get). Within the mask it is exactly
``s (raw - b u - c v) + e`` of the network's ``.raw``, so the ``affine`` numbers of the two agree;
``ls`` differs (the rules removed the tilt) and its fitted scale's sign says whether rule 2 picked
the right way round (``sign_ok``: ls scale > 0 on the resolved depth; the ls fit itself is free
to flip the sign, so the ls ratio alone does not see a wrong sign). ``raw`` ls is reported too.

Masks: for the black-backdrop Middlebury sets, :func:`reference_mask` thresholds the backdrop and
lift's mask is scored by IoU against it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from pointkit.lifting.pipeline import lift
from pointkit.masks import silhouette_heuristic

PHOTOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "photos"
"""Default location of the photo sets (``../shared/data/photos`` beside the repository)."""

SETS = ("dino", "temple", "fountain")
MODES = ("ls", "affine")


# --- cameras -------------------------------------------------------------------------------
@dataclass
class Camera:
    """A pinhole camera with projection ``x = K [R | t] X`` (pixel centres at integers, OpenCV's
    keypoint convention, which is what the data sets' calibrations use)."""

    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    size: tuple[int, int]  # (W, H)

    @property
    def P(self) -> np.ndarray:
        return self.K @ np.hstack([self.R, self.t.reshape(3, 1)])

    @property
    def centre(self) -> np.ndarray:
        return -self.R.T @ self.t

    def scaled(self, s: float) -> "Camera":
        """The camera of the image resized by ``s`` (pixel centres at integers:
        ``x' = s (x + 0.5) - 0.5``)."""
        S = np.array([[s, 0, 0.5 * s - 0.5], [0, s, 0.5 * s - 0.5], [0, 0, 1.0]])
        W, H = self.size
        return Camera(S @ self.K, self.R.copy(), self.t.copy(), (round(W * s), round(H * s)))

    def depth(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N,) z in this camera."""
        return X @ self.R[2] + self.t[2]

    def project(self, X: np.ndarray) -> np.ndarray:
        """(N, 3) world points -> (N, 2) pixels."""
        x = (X @ self.R.T + self.t) @ self.K.T
        return x[:, :2] / x[:, 2:3]


def read_middlebury_par(path: str | Path) -> dict[str, Camera]:
    """Middlebury ``*_par.txt``: a count line, then ``name k11..k33 r11..r33 t1 t2 t3`` per image
    (``x = K [R | t] X``; the images are 640x480). Returns ``{image name: Camera}``."""
    cams: dict[str, Camera] = {}
    lines = Path(path).read_text().split("\n")
    for line in lines[1:]:
        parts = line.split()
        if len(parts) != 22:
            continue
        v = np.array(parts[1:], np.float64)
        cams[parts[0]] = Camera(v[:9].reshape(3, 3), v[9:18].reshape(3, 3), v[18:21], (640, 480))
    return cams


def read_strecha_camera(path: str | Path) -> Camera:
    """Strecha et al. ``*.camera``: K (3 lines), a ``0 0 0`` line, R (3 lines, camera-to-world:
    its columns are the camera axes in the world), the camera centre C, then ``W H``.
    Returns the world-to-camera Camera ``R_wc = R^T, t = -R^T C``."""
    v = np.array(Path(path).read_text().split(), np.float64)
    K, Rcw, C, (W, H) = v[:9].reshape(3, 3), v[12:21].reshape(3, 3), v[21:24], v[24:26]
    R = Rcw.T
    return Camera(K, R, -R @ C, (int(W), int(H)))


@dataclass
class PhotoSet:
    """One calibrated photo set, images resized by ``scale`` on loading."""

    name: str
    images: list[Path]
    cameras: list[Camera]  # already scaled
    scale: float = 1.0
    ring: bool = False  # neighbours wrap around
    backdrop: bool = False  # black backdrop: reference masks by thresholding

    def __len__(self) -> int:
        return len(self.images)

    def rgb(self, i: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB of image ``i`` at the set's scale."""
        bgr = cv2.imread(str(self.images[i]), cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError(f"cannot read {self.images[i]}")
        if self.scale != 1.0:
            W, H = self.cameras[i].size
            bgr = cv2.resize(bgr, (W, H), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(bgr[..., ::-1])

    def neighbours(self, i: int, count: int = 2) -> list[int]:
        """Up to ``count`` images next to ``i`` in capture order (the sets are sequences / rings)."""
        n = len(self)
        cand = [i - 1, i + 1, i - 2, i + 2]
        out = []
        for j in cand:
            if self.ring:
                j %= n
            if 0 <= j < n and j != i and j not in out:
                out.append(j)
            if len(out) == count:
                break
        return out


def load_photo_set(name: str, root: str | Path | None = None, max_side: int | None = None) -> PhotoSet:
    """``name``: ``dino``, ``temple`` or ``fountain``. ``max_side``: downscale so the longer side
    is at most this (default: none for the 640x480 Middlebury sets, 768 for fountain)."""
    root = Path(root) if root is not None else PHOTOS
    if name in ("dino", "temple"):
        folder = root / f"{name}SparseRing"
        cams = read_middlebury_par(folder / f"{name}SR_par.txt")
        images = [folder / k for k in sorted(cams)]
        cameras = [cams[k] for k in sorted(cams)]
        ring, backdrop = True, True
        max_side = max_side or 640
    elif name == "fountain":
        folder = root / "fountain-P11"
        images = sorted((folder / "images").glob("*.jpg"))
        cameras = [read_strecha_camera(folder / "gt_dense_cameras" / f"{p.name}.camera") for p in images]
        ring, backdrop = False, False
        max_side = max_side or 768
    else:
        raise ValueError(f"unknown photo set {name!r}; use one of {', '.join(SETS)}")
    if not images:
        raise FileNotFoundError(f"no images for {name} under {folder}")
    s = min(1.0, max_side / max(cameras[0].size))
    if s < 1.0:
        cameras = [c.scaled(s) for c in cameras]
    return PhotoSet(name, images, cameras, s, ring, backdrop)


# --- sparse true depth ---------------------------------------------------------------------
def fundamental(a: Camera, b: Camera) -> np.ndarray:
    """F with ``x_b^T F x_a = 0`` for the true cameras."""
    Pa, Pb = a.P, b.P
    e_b = Pb @ np.append(a.centre, 1.0)
    ex = np.array([[0, -e_b[2], e_b[1]], [e_b[2], 0, -e_b[0]], [-e_b[1], e_b[0], 0]])
    F = ex @ Pb @ np.linalg.pinv(Pa)
    return F / np.linalg.norm(F)


def symmetric_epipolar_distance(F: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """(N,) max of the two point-to-epipolar-line distances in pixels."""
    ha = np.hstack([xa, np.ones((len(xa), 1))])
    hb = np.hstack([xb, np.ones((len(xb), 1))])
    la = ha @ F.T  # lines in b
    lb = hb @ F  # lines in a
    num = np.abs(np.sum(hb * la, 1))
    da = num / np.maximum(np.hypot(lb[:, 0], lb[:, 1]), 1e-12)
    db = num / np.maximum(np.hypot(la[:, 0], la[:, 1]), 1e-12)
    return np.maximum(da, db)


def sift(rgb: np.ndarray, max_features: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV SIFT: (N, 2) keypoint pixels (centres at integers) and (N, 128) descriptors."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    kps, desc = cv2.SIFT_create(nfeatures=max_features).detectAndCompute(gray, None)
    if desc is None or not kps:
        return np.zeros((0, 2)), np.zeros((0, 128), np.float32)
    return np.array([k.pt for k in kps], np.float64), desc


def ratio_matches(da: np.ndarray, db: np.ndarray, ratio: float = 0.8) -> np.ndarray:
    """(M, 2) index pairs passing Lowe's ratio test (a -> b) and mutual nearest neighbours."""
    if len(da) < 2 or len(db) < 2:
        return np.zeros((0, 2), np.int64)
    bf = cv2.BFMatcher(cv2.NORM_L2)
    ab = bf.knnMatch(da, db, k=2)
    ba = {m[0].queryIdx: m[0].trainIdx for m in bf.knnMatch(db, da, k=1) if m}
    out = [
        (m[0].queryIdx, m[0].trainIdx)
        for m in ab
        if len(m) == 2 and m[0].distance < ratio * m[1].distance and ba.get(m[0].trainIdx) == m[0].queryIdx
    ]
    return np.array(out, np.int64).reshape(-1, 2)


def triangulate(Pa: np.ndarray, Pb: np.ndarray, xa: np.ndarray, xb: np.ndarray) -> np.ndarray:
    """Linear (DLT) triangulation, (N, 2) x2 -> (N, 3)."""
    if len(xa) == 0:
        return np.zeros((0, 3))
    Xh = cv2.triangulatePoints(Pa, Pb, xa.T.astype(np.float64), xb.T.astype(np.float64))
    return (Xh[:3] / Xh[3]).T


@dataclass
class SparseDepth:
    """True depth at scattered pixels of one image (pixel centres at integers)."""

    u: np.ndarray
    v: np.ndarray
    depth: np.ndarray
    reprojection: np.ndarray  # (N,) max reprojection error over the two views, px
    partner: np.ndarray  # (N,) neighbour image index the point was triangulated with

    def __len__(self) -> int:
        return len(self.u)


def sparse_depth(
    photos: PhotoSet,
    i: int,
    neighbours: Sequence[int] | None = None,
    ratio: float = 0.8,
    epipolar_px: float = 1.5,
    reprojection_px: float = 2.0,
    features: Callable[[int], tuple[np.ndarray, np.ndarray]] | None = None,
) -> SparseDepth:
    """Sparse true depth of image ``i``: SIFT matches to each neighbour, kept within
    ``epipolar_px`` (x the set's scale, at least 0.75 px) of the true epipolar lines, triangulated,
    kept in front of both cameras with reprojection error < ``reprojection_px``. A keypoint of
    ``i`` matched in several neighbours keeps its first (nearest neighbour's) triangulation.

    ``features``: ``i -> (uv, desc)`` (e.g. a cache); default: :func:`sift` on ``photos.rgb(i)``.
    """
    feats = features or (lambda k: sift(photos.rgb(k)))
    neighbours = photos.neighbours(i) if neighbours is None else list(neighbours)
    eps = max(0.75, epipolar_px * photos.scale)
    ci = photos.cameras[i]
    uv_i, d_i = feats(i)
    taken = np.zeros(len(uv_i), bool)
    parts = []
    for j in neighbours:
        cj = photos.cameras[j]
        uv_j, d_j = feats(j)
        m = ratio_matches(d_i, d_j, ratio)
        if len(m) == 0:
            continue
        m = m[~taken[m[:, 0]]]
        xa, xb = uv_i[m[:, 0]], uv_j[m[:, 1]]
        ok = symmetric_epipolar_distance(fundamental(ci, cj), xa, xb) < eps
        m, xa, xb = m[ok], xa[ok], xb[ok]
        X = triangulate(ci.P, cj.P, xa, xb)
        za, zb = ci.depth(X), cj.depth(X)
        err = np.maximum(np.linalg.norm(ci.project(X) - xa, axis=1), np.linalg.norm(cj.project(X) - xb, axis=1))
        ok = (za > 0) & (zb > 0) & (err < reprojection_px)
        taken[m[ok, 0]] = True
        parts.append((xa[ok], za[ok], err[ok], np.full(int(ok.sum()), j)))
    if not parts:
        z = np.zeros(0)
        return SparseDepth(z, z, z, z, z.astype(int))
    xa, za, err, jj = (np.concatenate(p) for p in zip(*parts))
    return SparseDepth(xa[:, 0], xa[:, 1], za, err, jj)


# --- reference masks -----------------------------------------------------------------------
def fill_holes(mask: np.ndarray, max_area: float | None = None) -> np.ndarray:
    """(H, W) bool with the background regions not connected to the image border filled (only
    those of at most ``max_area`` pixels, when given: real gaps such as between columns stay)."""
    inv = (~mask.astype(bool)).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inv, connectivity=4)
    H, W = mask.shape
    out = mask.astype(bool).copy()
    for k in range(1, count):
        x, y, w, h, area = stats[k]
        touches = x == 0 or y == 0 or x + w == W or y + h == H
        if not touches and (max_area is None or area <= max_area):
            out[labels == k] = True
    return out


def reference_mask(
    rgb: np.ndarray, threshold: float = 0.25, close_px: int = 4, open_px: int = 6, max_hole: float = 0.004
) -> np.ndarray:
    """Object mask of a black-backdrop photo (Middlebury): max channel > ``threshold`` (0-1; a
    little above the Middlebury authors' 0.19, which lets the lit backdrop cloth in), a
    morphological close then open (radii in px), the largest component, holes of at most
    ``max_hole`` x the image area filled (the temple's gaps between columns are real and larger).
    (H, W, 3) uint8 -> (H, W) bool."""
    m = (rgb.max(2).astype(np.float32) / 255.0 > threshold).astype(np.uint8)
    if close_px > 0:
        m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * close_px + 1,) * 2))
    if open_px > 0:
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * open_px + 1,) * 2))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return np.zeros(m.shape, bool)
    keep = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return fill_holes(labels == keep, max_hole * m.size)


REFERENCE_MASK_SETTINGS = {"dino": {"threshold": 0.19, "close_px": 8}, "temple": {"threshold": 0.25}}
"""Per set :func:`reference_mask` settings, checked by eye on overlays: the dino has dark shadows
on its body (keep the authors' 0.19 and close more), the temple's set has a lit backdrop cloth
that 0.19 lets in (its plaster is bright, so 0.25 is safe)."""


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks (1 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


# --- alignment and scores ------------------------------------------------------------------
def align_points(
    pred: np.ndarray, gt: np.ndarray, u: np.ndarray, v: np.ndarray, mode: str = "affine", size: tuple[int, int] = (1, 1)
) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares alignment of predicted depth at scattered points to the true depth (numpy).

    ``ls``: ``a p + e``; ``affine``: ``a p + b u/W + c v/H + e``. A constant ``pred`` is fine (the
    fit degenerates to the mean / a plane: the flat baseline). ``size``: (W, H) to normalise u, v.

    Returns:
        aligned (N,) and coefficients ``[a, e]`` or ``[a, b, c, e]``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    p = np.asarray(pred, np.float64)
    pc = p - p.mean() if len(p) else p
    W, H = size
    cols = [pc] if mode == "ls" else [pc, np.asarray(u, np.float64) / W, np.asarray(v, np.float64) / H]
    A = np.stack(cols + [np.ones_like(p)], 1)
    coef = np.linalg.lstsq(A, np.asarray(gt, np.float64), rcond=None)[0]
    aligned = A @ coef
    coef = coef.copy()
    coef[-1] -= coef[0] * (p.mean() if len(p) else 0.0)  # back to the uncentred prediction
    return aligned, coef


def aligned_rmse(
    pred: np.ndarray, gt: np.ndarray, u: np.ndarray, v: np.ndarray, mode: str, size: tuple[int, int] = (1, 1)
) -> float:
    aligned, _ = align_points(pred, gt, u, v, mode, size)
    return float(np.sqrt(np.mean((aligned - gt) ** 2))) if len(gt) else float("nan")


def sample(image: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Nearest-pixel values of an (H, W) map at pixels (u, v) (centres at integers)."""
    H, W = image.shape[:2]
    return image[np.clip(np.rint(v).astype(int), 0, H - 1), np.clip(np.rint(u).astype(int), 0, W - 1)]


MIN_POINTS = 8
"""Fewer scored points than this: the image's depth ratios are NaN."""


def score_image(
    depth: np.ndarray, raw: np.ndarray, mask: np.ndarray, truth: SparseDepth, reference: np.ndarray | None = None
) -> dict:
    """Scores of one lifted image at its sparse true depth (see the module doc).

    Returns a dict: ``points``, ``scored`` (points in the mask), ``coverage``, ``iou`` (NaN without
    a reference mask), ``gt_std`` (true depth std over scored points, the unit of the ``*_rmse``
    values), ``{ls,affine}_rmse`` / ``_ratio`` for the resolved depth, ``raw_{ls,affine}_ratio``,
    ``heur_{ls,affine}_ratio``, ``flat_{ls,affine}_ratio`` (1 by construction) and ``sign_ok``.
    """
    H, W = mask.shape
    n = len(truth)
    inside = sample(mask, truth.u, truth.v).astype(bool) if n else np.zeros(0, bool)
    u, v, gt = truth.u[inside], truth.v[inside], truth.depth[inside]
    out: dict = {
        "points": n,
        "scored": int(inside.sum()),
        "coverage": float(inside.mean()) if n else float("nan"),
        "iou": iou(mask, reference) if reference is not None else float("nan"),
    }
    nan = float("nan")
    every = sample(raw, truth.u, truth.v) if n else np.zeros(0)
    for mode in MODES:
        flat = aligned_rmse(np.zeros(n), truth.depth, truth.u, truth.v, mode, (W, H)) if n >= MIN_POINTS else 0.0
        out[f"all_{mode}_ratio"] = (
            aligned_rmse(every, truth.depth, truth.u, truth.v, mode, (W, H)) / flat if flat > 0 else nan
        )
    if len(gt) < MIN_POINTS or gt.std() <= 0:
        out["gt_std"] = nan
        for mode in MODES:
            for key in (
                f"{mode}_rmse",
                f"{mode}_ratio",
                f"raw_{mode}_ratio",
                f"heur_{mode}_ratio",
                f"flat_{mode}_ratio",
            ):
                out[key] = nan
        out["sign_ok"] = nan
        return out
    std = float(gt.std())
    out["gt_std"] = std
    preds = {
        "": sample(depth, u, v),
        "raw_": sample(raw, u, v),
        "heur_": sample(silhouette_heuristic(mask), u, v),
        "flat_": np.zeros(len(gt)),
    }
    for mode in MODES:
        flat = aligned_rmse(preds["flat_"], gt, u, v, mode, (W, H))
        for name, p in preds.items():
            r = aligned_rmse(p, gt, u, v, mode, (W, H))
            if name == "":
                out[f"{mode}_rmse"] = r / std
            out[f"{name}{mode}_ratio"] = r / flat if flat > 0 else nan
    out["sign_ok"] = float(align_points(preds[""], gt, u, v, "ls")[1][0] > 0)
    return out


@dataclass
class SetReport:
    name: str
    rows: list[dict] = field(default_factory=list)  # one per image, with "image"

    def summary(self, stat: Callable = np.nanmedian) -> dict:
        keys = [k for k in self.rows[0] if not isinstance(self.rows[0][k], str)] if self.rows else []
        out = {"set": self.name, "images": len(self.rows)}
        for k in keys:
            vals = np.array([r[k] for r in self.rows], np.float64)
            if k in ("points", "scored"):
                out[k] = int(np.nansum(vals))
            else:
                out[k] = float(stat(vals)) if np.isfinite(vals).any() else float("nan")
        return out


def evaluate_set(
    photos: PhotoSet,
    checkpoint: str | Path | None = None,
    images: Iterable[int] | None = None,
    neighbours: int = 2,
    device: str = "cpu",
    progress: Callable | None = None,
) -> SetReport:
    """Lift each image (``images``: indices, default all) with ``checkpoint`` and score it
    (:func:`score_image`) at its sparse true depth from ``neighbours`` neighbouring views."""
    idx = list(range(len(photos))) if images is None else list(images)
    cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    rgbs: dict[int, np.ndarray] = {}

    def rgb(k: int) -> np.ndarray:
        if k not in rgbs:
            rgbs[k] = photos.rgb(k)
        return rgbs[k]

    def feats(k: int):
        if k not in cache:
            cache[k] = sift(rgb(k))
        return cache[k]

    report = SetReport(photos.name)
    it = progress(idx, desc=photos.name) if progress else idx
    for i in it:
        truth = sparse_depth(photos, i, photos.neighbours(i, neighbours), features=feats)
        image = rgb(i)
        result = lift(image, checkpoint=checkpoint, device=device)
        ref = reference_mask(image, **REFERENCE_MASK_SETTINGS.get(photos.name, {})) if photos.backdrop else None
        row = {
            "image": photos.images[i].name,
            "mask_source": str(result.info.get("mask")),
            **score_image(result.depth, result.raw, result.mask, truth, ref),
        }
        report.rows.append(row)
    return report


def markdown_table(reports: Sequence[SetReport]) -> str:
    """Median (mean) per set of the headline numbers."""
    cols = [
        ("points", "points"),
        ("coverage", "coverage"),
        ("iou", "IoU"),
        ("sign_ok", "sign ok"),
        ("ls_ratio", "ls / flat"),
        ("affine_ratio", "affine / flat"),
        ("raw_ls_ratio", "raw ls / flat"),
        ("heur_ls_ratio", "heur. ls / flat"),
        ("heur_affine_ratio", "heur. affine / flat"),
        ("affine_rmse", "affine RMSE / std"),
        ("all_affine_ratio", "all points: affine / flat"),
    ]
    lines = [
        "| set | images | " + " | ".join(c[1] for c in cols) + " | lift mask from |",
        "|---|---:|" + "---:|" * len(cols) + "---|",
    ]
    for rep in reports:
        med, mean = rep.summary(np.nanmedian), rep.summary(np.nanmean)
        cells = []
        for k, _ in cols:
            if k == "points":
                cells.append(str(med.get(k, 0)))
            elif not math.isfinite(med.get(k, float("nan"))):
                cells.append("–")
            else:
                cells.append(f"{med[k]:.2f} ({mean[k]:.2f})")
        sources = Counter(r.get("mask_source", "?") for r in rep.rows)
        cells.append(", ".join(f"{k} {v}" for k, v in sorted(sources.items())))
        lines.append(f"| {rep.name} | {med['images']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
