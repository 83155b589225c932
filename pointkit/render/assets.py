"""The appearance asset folder (HDR environments, texture sets, background photos): where it is,
what it holds, the scene-wise train / test split of its background photos, and reading its files.

Assets are read in place (``resolve_appearance_dir``), never copied into the repository, loaded
only when drawn and kept in small LRU caches. Both renderers read them: the fast renderer's photo
style (``pointkit.render.appearance``) per view, the engine once into a shape bank
(``pointkit.engine.appearance``).
"""

from __future__ import annotations

import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
import torch

from pointkit.errors import PointkitError
from pointkit.shading import sh_coefficients

ENV_VAR = "POINTKIT_APPEARANCE"
BACKGROUND_SPLITS = ("train", "test", "all")
TEST_FRACTION = 0.2


def resolve_appearance_dir(path: str | os.PathLike | None = None, required: bool = True) -> Path | None:
    """The appearance asset folder: ``path``, else ``$POINTKIT_APPEARANCE``, else
    ``<repo>/../shared/data/appearance`` when it exists.

    Raises PointkitError (when ``required``) if the folder is missing; returns None otherwise.
    """
    if path is not None and str(path) != "":
        candidate = Path(path).expanduser()
        how = "the appearance option"
    elif os.environ.get(ENV_VAR):
        candidate = Path(os.environ[ENV_VAR]).expanduser()
        how = f"${ENV_VAR}"
    else:
        candidate = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "appearance"
        how = "the default location"
    if (candidate / "hdri").is_dir() and (candidate / "backgrounds").is_dir():
        return candidate.resolve()
    if not required:
        return None
    raise PointkitError(
        f"appearance assets folder {candidate} (from {how}) is missing or lacks hdri/ and "
        f"backgrounds/; pass --option appearance=DIR or set {ENV_VAR}=DIR"
    )


def background_group(name: str) -> str:
    """The scene a background photo comes from: the file stem without a cube-face (``_posx``) or
    view-angle (``_y120``) suffix, so views of one scene never straddle the train / test split."""
    return re.sub(r"_((pos|neg)[xyz]|y\d+)$", "", Path(name).stem)


def background_split(name: str) -> str:
    """ "test" for about 20 % of scenes (sha256 of ``background_group(name)``), else "train"."""
    digest = hashlib.sha256(background_group(name).encode()).digest()
    return "test" if int.from_bytes(digest[:4], "big") / 2**32 < TEST_FRACTION else "train"


def list_backgrounds(root: Path, split: str = "all") -> list[Path]:
    """Sorted background photos of ``split`` ("train", "test" or "all")."""
    if split not in BACKGROUND_SPLITS:
        raise PointkitError(f"backgrounds={split!r}: use one of {', '.join(BACKGROUND_SPLITS)}")
    files = sorted(p for p in (Path(root) / "backgrounds").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [p for p in files if split == "all" or background_split(p.name) == split]


@lru_cache(maxsize=64)
def asset_listing(root: str, sub: str, suffix: str) -> tuple[str, ...]:
    """Sorted paths in ``root/sub``: texture-set folders with a colour map (``suffix`` "/"), else
    the files whose name ends with ``suffix``."""
    folder = Path(root) / sub
    if not folder.is_dir():
        return ()
    if suffix == "/":
        return tuple(sorted(str(p) for p in folder.iterdir() if p.is_dir() and colour_file(p) is not None))
    return tuple(sorted(str(p) for p in folder.iterdir() if p.name.lower().endswith(suffix)))


def colour_file(folder: Path) -> Path | None:
    """A texture set's colour map (the image named colour / color / albedo / diff), or None."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for p in files:
        if (
            "color" in p.stem.lower()
            or "colour" in p.stem.lower()
            or "albedo" in p.stem.lower()
            or "diff" in p.stem.lower()
        ):
            return p
    return None


def read_asset(path: str, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imread(path, flags)
    if image is None:
        raise PointkitError(f"cannot read appearance asset {path}; check the file or the appearance folder")
    return image


@lru_cache(maxsize=6)
def background_photo(path: str) -> np.ndarray:
    """Linear RGB float32 of a background photo."""
    return (read_asset(path)[..., ::-1].astype(np.float32) / 255.0) ** 2.2


@lru_cache(maxsize=6)
def texture_image(folder: str) -> np.ndarray:
    """Linear RGB float32 colour map of a texture set, at most 512 px."""
    image = read_asset(str(colour_file(Path(folder))))
    scale = 512 / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return (image[..., ::-1].astype(np.float32) / 255.0) ** 2.2


@lru_cache(maxsize=8)
def hdri_sh(path: str) -> np.ndarray:
    """(9, 3) SH coefficients of an HDRI (downsampled to 64 x 32), normalised so that the mean
    irradiance over normals (= pi * L_00 * Y_00 * ... ) is 1 (grey-level mean)."""
    image = read_asset(path, cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR).astype(np.float32)[..., ::-1]
    image = cv2.resize(np.ascontiguousarray(image), (64, 32), interpolation=cv2.INTER_AREA)
    coefficients = sh_coefficients(torch.from_numpy(np.nan_to_num(np.clip(image, 0, 1e4)).astype(np.float64))).numpy()
    mean = float(coefficients[0].mean() * 0.282095 * np.pi)
    return coefficients / max(mean, 1e-6)
