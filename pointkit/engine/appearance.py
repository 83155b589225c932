"""Photo-style appearance for the engine: background photos, texture maps and HDRI light rigs.

The CPU photo style (``pointkit.render.appearance``) reads the CC0 assets from disk per view;
the engine runs where those files are not (a GPU machine with torch only), so the assets travel
inside the shape bank as small arrays (``EngineAppearance``), made once on a CPU machine by
``appearance_from_folder``. Shading with them is :mod:`pointkit.shading`, shared with the CPU style.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pointkit.errors import PointkitError

KEYS = ("photos", "textures", "sh")
"""Array names of the assets inside a bank file (prefixed ``appearance_``)."""

PHOTO_SIZE = 256
TEXTURE_SIZE = 128


@dataclass
class EngineAppearance:
    """Assets of the engine's photo style, each optional.

    Attributes:
        photos: (M, 3, H, W) uint8 background photos (square crops).
        textures: (T, 3, h, w) uint8 tiling colour maps (sRGB).
        sh: (L, 9, 3) float32 radiance SH of HDRIs, normalised to mean irradiance 1.
    """

    photos: torch.Tensor | None = None
    textures: torch.Tensor | None = None
    sh: torch.Tensor | None = None

    def to(self, device) -> "EngineAppearance":
        return EngineAppearance(*(None if t is None else t.to(device) for t in (self.photos, self.textures, self.sh)))

    def __bool__(self) -> bool:
        return any(t is not None and len(t) for t in (self.photos, self.textures, self.sh))

    def arrays(self) -> dict[str, np.ndarray]:
        """The assets as numpy arrays named for a bank file (absent ones left out)."""
        return {f"appearance_{k}": getattr(self, k).cpu().numpy() for k in KEYS if getattr(self, k) is not None}

    @classmethod
    def from_arrays(cls, arrays) -> "EngineAppearance":
        """From a mapping with ``arrays()``'s names (e.g. an open ``np.load``)."""
        return cls(
            *(
                torch.from_numpy(np.ascontiguousarray(arrays[f"appearance_{k}"]))
                if f"appearance_{k}" in arrays
                else None
                for k in KEYS
            )
        )

    @classmethod
    def concat(cls, parts: list["EngineAppearance"]) -> "EngineAppearance":
        """All assets of ``parts`` together (photos of different sizes cannot be mixed)."""
        out = []
        for k in KEYS:
            tensors = [getattr(p, k) for p in parts if getattr(p, k) is not None]
            if len({tuple(t.shape[1:]) for t in tensors}) > 1:
                raise PointkitError(f"the banks' {k} have different sizes; build them with the same pointkit version")
            out.append(torch.cat(tensors) if tensors else None)
        return cls(*out)


def appearance_from_folder(
    root: str | Path, split: str = "train", photo_size: int = PHOTO_SIZE, texture_size: int = TEXTURE_SIZE
) -> EngineAppearance:
    """The photo style's assets in ``root`` (an appearance folder) as engine arrays (CPU, cv2).

    Background photos of ``split`` (the scene-wise train / test split of the photo style) become
    centre square crops of ``photo_size``; every texture set's colour map is resized to
    ``texture_size``; every HDRI becomes its normalised SH coefficients.
    """
    import cv2

    from pointkit.render.assets import colour_file, hdri_sh, list_backgrounds

    root = Path(root)
    photos = []
    for path in list_backgrounds(root, split):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise PointkitError(f"cannot read background photo {path}; check the appearance folder")
        h, w = image.shape[:2]
        side = min(h, w)
        crop = image[(h - side) // 2 : (h - side) // 2 + side, (w - side) // 2 : (w - side) // 2 + side]
        photos.append(cv2.resize(crop, (photo_size, photo_size), interpolation=cv2.INTER_AREA)[..., ::-1])
    textures = []
    folder = root / "textures"
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []:
        colour = colour_file(sub)
        image = None if colour is None else cv2.imread(str(colour), cv2.IMREAD_COLOR)
        if image is not None:
            textures.append(cv2.resize(image, (texture_size, texture_size), interpolation=cv2.INTER_AREA)[..., ::-1])
    sh = [hdri_sh(str(p)) for p in sorted((root / "hdri").glob("*.hdr"))]

    def stack(images):
        return torch.from_numpy(np.ascontiguousarray(np.stack(images).transpose(0, 3, 1, 2))) if images else None

    return EngineAppearance(
        stack(photos), stack(textures), torch.from_numpy(np.stack(sh).astype(np.float32)) if sh else None
    )
