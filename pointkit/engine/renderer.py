"""``render-synthetic --renderer engine``: the sample engine as a renderer plugin.

Writes the engine's images (SDF sphere tracing, engine shading with the photo-style assets) into
the ordinary dataset format, so ``show``, ``eval`` and ``train`` read them unchanged and the
engine's pictures can be inspected. Correspondences are then made by ``render-synthetic`` from
depth and cameras as for every renderer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from pointkit.engine.appearance import appearance_from_folder
from pointkit.engine.render import OrthoCameras, shade, trace
from pointkit.engine.sdf import ShapeBank, mesh_to_sdf
from pointkit.errors import PointkitError


class EngineRenderer:
    """Renderer plugin ``engine`` (see the module doc).

    Depth and mask come from the SDF grid, not the mesh: within about 0.1 % of the depth range of
    an exact ray cast at ``grid`` 64 (docs/engine.md), thin parts thickened or lost.

    Args:
        grid: SDF lattice side per mesh.
        device: torch device ("cpu", "cuda", "auto": CUDA when present).
        appearance: the appearance asset folder (default: the photo style's default; none found:
            procedural backgrounds and sinusoid textures only).
        backgrounds: split of the background photos ("train", "test", "all").
        photo_prob: probability of a photo background per view.
    """

    name = "engine"

    def __init__(
        self,
        grid: int = 64,
        device: str = "cpu",
        appearance: str | None = None,
        backgrounds: str = "all",
        photo_prob: float = 0.5,
    ):
        from pointkit.render.assets import resolve_appearance_dir

        self.grid = int(grid)
        if self.grid < 16:
            raise ValueError(f"grid={grid}: use at least 16")
        self.device = torch.device(
            "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
        )
        root = resolve_appearance_dir(appearance, required=appearance is not None)
        self.assets = appearance_from_folder(root, backgrounds).to(self.device) if root is not None else None
        self.photo_prob = float(photo_prob)

    def render(self, mesh, cameras: Sequence, seed: int, views: Sequence[tuple[float, float]]) -> list:
        from pointkit.render.views import RenderedView

        size = {c.resolution for c in cameras}
        scale = {round(float(c.scale), 9) for c in cameras}
        if (
            len(size) != 1
            or len(scale) != 1
            or cameras[0].resolution[0] != cameras[0].resolution[1]
            or any(tuple(c.centre) != (c.resolution[1] / 2, c.resolution[0] / 2) for c in cameras)
        ):
            raise PointkitError("the engine renderer needs square views of one size and scale, centred")
        S = cameras[0].resolution[0]
        bank = ShapeBank.from_grids(mesh_to_sdf(mesh, self.grid)[None], "float32").to(self.device)
        w2c = torch.tensor(np.stack([c.world_to_camera for c in cameras]), dtype=torch.float32, device=self.device)
        cams = OrthoCameras(w2c[None], float(cameras[0].scale), S)
        traced = trace(bank.sdf(torch.zeros(1, dtype=torch.long)), cams, bank.bound)
        generator = torch.Generator(device=self.device).manual_seed(int(seed) % 2**63)
        images = shade(traced, cams, generator, self.assets, self.photo_prob)[0].permute(0, 2, 3, 1).cpu().numpy()
        depth, mask = traced.depth[0].cpu().numpy(), traced.mask[0].cpu().numpy()
        return [
            RenderedView(
                image=np.ascontiguousarray(images[i]),
                depth=depth[i].astype(np.float32),
                mask=mask[i],
                camera=camera,
                azimuth=float(az),
                elevation=float(el),
            )
            for i, (camera, (az, el)) in enumerate(zip(cameras, views))
        ]
