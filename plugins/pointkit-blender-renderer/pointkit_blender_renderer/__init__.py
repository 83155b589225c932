"""pointkit's Blender renderer: photoreal orthographic views with Cycles on the CPU, headless.

Registered as the ``blender`` plugin of the entry-point group ``pointkit.renderers``. Importing
this package does not import bpy; ``BlenderRenderer.render`` does (about 1.5 s the first time).

RGB comes from Cycles with a random material (bronze, marble, stone or painted plaster), random
sun, fill light and world light, all drawn from the seed, rendered over a transparent film; the
background (a random vertical gradient) is composited in numpy with Cycles' alpha. Depth and
mask are exact, from ray casting the same mesh with the same cameras (pointkit.render.raycast):
with an orthographic camera this is simpler and more exact than EXR depth passes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from pointkit.geometry.camera import OrthoCamera
from pointkit.render.raycast import raycast
from pointkit.render.views import RenderedView

MATERIALS = ("bronze", "marble", "stone", "plaster")


class BlenderRenderer:
    """Cycles CPU renderer.

    Args:
        samples: Cycles samples per pixel (16 is quick and noisy; 64-128 for final data).
        denoise: run Cycles' OpenImageDenoise pass (slower, smoother).
        material: force one of ``MATERIALS``; None draws one per object from the seed.
        threads: CPU threads for Cycles; 0 uses all.
    """

    name = "blender"

    def __init__(self, samples: int = 16, denoise: bool = False, material: str | None = None, threads: int = 0):
        if material is not None and material not in MATERIALS:
            raise ValueError(f"unknown material {material!r}; choose one of {MATERIALS}")
        self.samples, self.denoise, self.material, self.threads = int(samples), bool(denoise), material, int(threads)

    def render(self, mesh, cameras: Sequence[OrthoCamera], seed: int,
               views: Sequence[tuple[float, float]]) -> list[RenderedView]:
        """Render a normalised trimesh from each camera (see pointkit.render.views.Renderer)."""
        from pointkit_blender_renderer import scene

        rng = np.random.default_rng(seed)
        material = self.material or MATERIALS[int(rng.integers(len(MATERIALS)))]
        scene.build(mesh, rng, material=material, samples=self.samples, denoise=self.denoise,
                    threads=self.threads, seed=int(seed))
        hits = raycast(mesh, cameras)
        out = []
        for i, (camera, (azimuth, elevation)) in enumerate(zip(cameras, views)):
            rgba = scene.render(camera)
            alpha = rgba[..., 3:] / 255.0
            h = rgba.shape[0]
            top, bottom = rng.uniform(0.05, 0.95, (2, 3))
            background = (np.linspace(0, 1, h)[:, None, None] * (bottom - top) + top) ** (1 / 2.2) * 255
            # Cycles writes straight (unassociated) alpha to PNG: composite "over" the background.
            image = rgba[..., :3] * alpha + background * (1 - alpha)
            out.append(RenderedView(image=np.clip(image + 0.5, 0, 255).astype(np.uint8), depth=hits.depth[i],
                                    mask=hits.mask[i], camera=camera, azimuth=azimuth, elevation=elevation,
                                    coverage=alpha[..., 0].astype(np.float32)))
        return out
