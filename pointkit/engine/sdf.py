"""Shapes as signed-distance grids, and banks of them that a torch-only machine can load.

``mesh_to_sdf`` (CPU: open3d + scipy) samples a mesh's signed distance on a G^3 lattice over
[-bound, bound]^3, ``bound`` = 1.05 by default (meshes are normalised into the unit sphere).
Lattice node ``(iz, iy, ix)`` sits at ``-bound + (ix, iy, iz) * 2 bound / (G - 1)`` (x, y, z), so
the array is laid out (D=z, H=y, W=x) as ``torch.nn.functional.grid_sample`` wants it with
``align_corners=True`` and grid coordinates ``world / bound``.

Sign (negative inside) is found without trusting the mesh to be watertight or non-overlapping:
voxels farther than ~0.87 voxel from the surface are flood-filled from the lattice border; the
ones reached are outside, the rest inside. Voxels next to the surface take the sign of the
nearest triangle's normal (all flipped when the mesh is wound inside out), but are forced inside when no outside voxel is next to them (so the
inner walls of overlapping parts, e.g. the ``union`` family, leave no bubbles). Open meshes with
holes larger than a voxel are shells: outside on both sides, with a one-voxel-thick zero set.

A bank (``save_bank`` / ``load_bank``) is one ``numpy.savez_compressed`` file holding N grids as
``int8`` (truncated SDF, ``value = q / 127 * truncation``) or ``float16`` (truncated when
``truncation`` > 0). Reading needs numpy and torch only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from pointkit.engine.appearance import EngineAppearance
from pointkit.errors import PointkitError
from pointkit.io import write_npz_atomic

BOUND = 1.05
"""Half side of the cube the SDF lattice covers (world units)."""
TRUNCATION = 0.1
"""Default truncation of banked SDFs (world units); sphere-tracing steps are at most this."""


def lattice(grid: int, bound: float = BOUND) -> np.ndarray:
    """World positions (G, G, G, 3) float32 of the lattice nodes, indexed [iz, iy, ix] -> (x, y, z)."""
    axis = np.linspace(-bound, bound, grid, dtype=np.float64)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    return np.stack([x, y, z], -1).astype(np.float32)


def mesh_to_sdf(mesh, grid: int = 64, bound: float = BOUND) -> np.ndarray:
    """Signed distance of ``mesh`` (a trimesh, world units) on the G^3 lattice, negative inside.

    Returns:
        (G, G, G) float32 indexed [iz, iy, ix] (see the module docstring).
    """
    try:
        import open3d as o3d
    except ImportError:
        raise PointkitError("mesh_to_sdf needs open3d: pip install 'pointkit[open3d]' (or open3d)") from None
    from scipy import ndimage

    if grid < 8:
        raise PointkitError(f"grid {grid} is too small; use at least 8")
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)), o3d.core.Tensor(np.asarray(mesh.faces, np.uint32))
    )
    points = lattice(grid, bound)
    closest = scene.compute_closest_points(o3d.core.Tensor(points))
    nearest = closest["points"].numpy()
    normals = closest["primitive_normals"].numpy()
    offset = points - nearest
    udf = np.linalg.norm(offset, axis=-1)
    h = 2.0 * bound / (grid - 1)
    wall = udf < 0.87 * h
    labels, _ = ndimage.label(~wall)  # 6-connected
    border = np.unique(
        np.concatenate([labels[[0, -1]].ravel(), labels[:, [0, -1]].ravel(), labels[:, :, [0, -1]].ravel()])
    )
    outside = np.isin(labels, border[border > 0])
    inside = ~wall & ~outside
    # Near the surface: the nearest triangle's side, unless no outside voxel touches the voxel.
    near_outside = ndimage.binary_dilation(outside, structure=np.ones((3, 3, 3), bool))
    front = (offset * normals).sum(-1) >= 0
    # Meshes wound inside out (normals pointing in): wall voxels that only touch outside voxels
    # must mostly be in front of their nearest triangle; if not, flip every triangle's side.
    near_inside = ndimage.binary_dilation(inside, structure=np.ones((3, 3, 3), bool))
    clear = wall & near_outside & ~near_inside
    if clear.any() and front[clear].mean() < 0.5:
        front = ~front
    inside |= wall & (~front | ~near_outside)
    return np.where(inside, -udf, udf).astype(np.float32)


def quantise(sdf: np.ndarray, truncation: float = TRUNCATION) -> np.ndarray:
    """float SDF -> int8 truncated SDF (``q / 127 * truncation``)."""
    return np.round(np.clip(np.asarray(sdf, np.float32) / truncation, -1.0, 1.0) * 127).astype(np.int8)


@dataclass
class ShapeBank:
    """N SDF grids on one device, stored compactly and expanded per batch.

    Attributes:
        data: (N, G, G, G) int8 (quantised) or float16 / float32 tensor.
        truncation: world units of q = 127 for int8 data (also the clamp of float data; 0: none).
        bound: lattice half side.
        names: one label per shape.
    """

    data: torch.Tensor
    truncation: float
    bound: float = BOUND
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.data.shape[0])

    @property
    def grid(self) -> int:
        return int(self.data.shape[-1])

    @property
    def device(self) -> torch.device:
        return self.data.device

    def sdf(self, index: torch.Tensor) -> torch.Tensor:
        """float32 (B, 1, G, G, G) SDFs of shapes ``index`` (B,) (a long tensor on any device)."""
        x = self.data[index.to(self.data.device)]
        if x.dtype == torch.int8:
            x = x.float() * (self.truncation / 127.0)
        return x.float()[:, None]

    def to(self, device) -> "ShapeBank":
        return ShapeBank(self.data.to(device), self.truncation, self.bound, self.names)

    @classmethod
    def from_meshes(
        cls,
        meshes: Iterable,
        grid: int = 64,
        bound: float = BOUND,
        dtype: str = "int8",
        truncation: float = TRUNCATION,
        names: Iterable[str] | None = None,
    ) -> "ShapeBank":
        """Build a bank on the CPU from trimeshes (``dtype`` "int8", "float16" or "float32")."""
        grids = [mesh_to_sdf(m, grid, bound) for m in meshes]
        return cls.from_grids(np.stack(grids), dtype, truncation, bound, names)

    @classmethod
    def from_grids(
        cls,
        grids: np.ndarray,
        dtype: str = "float32",
        truncation: float = TRUNCATION,
        bound: float = BOUND,
        names: Iterable[str] | None = None,
    ) -> "ShapeBank":
        """A bank from float SDF grids (N, G, G, G)."""
        grids = np.asarray(grids, np.float32)
        if dtype == "int8":
            data = torch.from_numpy(quantise(grids, truncation))
        elif dtype in ("float16", "float32"):
            if truncation > 0:
                grids = np.clip(grids, -truncation, truncation)
            data = torch.from_numpy(grids.astype(dtype))
        else:
            raise PointkitError(f"dtype {dtype!r}: use int8, float16 or float32")
        names = tuple(names) if names is not None else tuple(str(i) for i in range(len(grids)))
        return cls(data, float(truncation), float(bound), names)


def save_bank(path: str | Path, bank: ShapeBank, appearance=None) -> Path:
    """Write a bank (and optionally an ``EngineAppearance``'s assets) as one compressed .npz,
    atomically; returns the path."""
    data = bank.data.cpu().numpy()
    extra = appearance.arrays() if appearance is not None else {}
    return write_npz_atomic(
        path,
        sdf=data,
        truncation=np.float32(bank.truncation),
        bound=np.float32(bank.bound),
        names=np.array(bank.names or [str(i) for i in range(len(data))]),
        format=np.array("pointkit-sdf-bank-1"),
        **extra,
    )


def _open_bank(path: str | Path):
    try:
        z = np.load(Path(path), allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PointkitError(
            f"{path}: not a readable shape bank ({exc}); make one with render-synthetic --bank"
        ) from None
    if "sdf" not in z or str(z.get("format", "")) != "pointkit-sdf-bank-1":
        z.close()
        raise PointkitError(f"{path}: not a pointkit SDF bank; make one with render-synthetic --bank")
    return z


def load_bank(path: str | Path, device="cpu") -> ShapeBank:
    """Read a bank written by ``save_bank`` (numpy + torch only) onto ``device``."""
    with _open_bank(path) as z:
        data = torch.from_numpy(np.ascontiguousarray(z["sdf"])).to(device)
        return ShapeBank(data, float(z["truncation"]), float(z["bound"]), tuple(str(n) for n in z["names"]))


def load_appearance(path: str | Path, device="cpu"):
    """The ``EngineAppearance`` saved with a bank (empty when it has none), on ``device``."""
    with _open_bank(path) as z:
        return EngineAppearance.from_arrays(z).to(device)


def concat_banks(banks: list[ShapeBank]) -> ShapeBank:
    """One bank of all shapes of ``banks`` (same grid, dtype, truncation and bound)."""
    first = banks[0]
    for b in banks[1:]:
        same_scale = math.isclose(b.truncation, first.truncation, rel_tol=1e-6) and math.isclose(
            b.bound, first.bound, rel_tol=1e-6
        )
        if (b.grid, b.data.dtype) != (first.grid, first.data.dtype) or not same_scale:
            raise PointkitError(
                f"shape banks differ (grid {b.grid} vs {first.grid}, {b.data.dtype} vs "
                f"{first.data.dtype}, truncation {b.truncation:g} vs {first.truncation:g}); "
                "build them with the same --grid"
            )
    return ShapeBank(
        torch.cat([b.data for b in banks]), first.truncation, first.bound, tuple(n for b in banks for n in b.names)
    )
