"""The fast renderer: exact ray casting (open3d) with seeded Lambertian shading.

Each object gets a random albedo colour modulated by a smooth 3D solid texture (a few random
sinusoids of the world position, so the pattern sticks to the surface and is the same in every
view), two directional lights fixed in world space plus ambient light, and a random background
(vertical gradient). Shading uses vertex normals interpolated with the hit's barycentric
coordinates, turned to face the camera (open meshes show their inside faces lit too).

``style="photo"`` (``pointkit.render.appearance``) instead draws a photographic material, an HDRI
environment plus directional lights with ray-cast shadows and ambient occlusion, a photo or
procedural background and camera effects; depth and mask are the same exact ray casts.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import trimesh

from pointkit.geometry.camera import OrthoCamera, unproject
from pointkit.render import appearance as app
from pointkit import backgrounds
from pointkit.render.assets import BACKGROUND_SPLITS, resolve_appearance_dir
from pointkit.render.raycast import raycast
from pointkit.render.views import RenderedView


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _surface(
    hits, i: int, camera: OrthoCamera, vertex_normals: np.ndarray, faces: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) camera-facing interpolated normals and (N, 3) world points of view ``i``'s object
    pixels (row-major order of ``hits.mask[i]``)."""
    mask, depth = hits.mask[i], hits.depth[i]
    f = faces[hits.face[i][mask]]
    b = hits.barycentric[i][mask].astype(np.float64)
    weights = np.stack([1 - b[:, 0] - b[:, 1], b[:, 0], b[:, 1]], 1)[..., None]
    normal = _unit((vertex_normals[f] * weights).sum(1))
    normal[normal @ camera.world_to_camera[2, :3] > 0] *= -1
    v, u = np.nonzero(mask)
    points = unproject(np.stack([u, v], 1) + 0.5, depth[v, u], camera.world_to_camera, camera.affine)
    return normal, points


class FastRenderer:
    """Ray-cast renderer (about 30 ms per 256 x 256 view on one CPU core for ~100k faces).

    Args:
        texture: amplitude in [0, 1] of the solid texture on the albedo (0: plain colour; plain style).
        style: "plain" (Lambert, gradient backgrounds; the default, reproduces older datasets) or
            "photo" (photographic materials, HDRI lighting, shadows, photo backgrounds, camera effects).
        appearance: the appearance asset folder for the photo style (default ``$POINTKIT_APPEARANCE``,
            else ``<repo>/../shared/data/appearance``).
        backgrounds: photo backgrounds drawn from the "train", "test" or "all" split (photo style).
        photo_prob: probability of a photo background (else procedural) per view (photo style).
        material: force one material kind (``appearance.MATERIALS``), default random.
        ao_rays: ambient-occlusion rays per pixel (0: none).
        background: force the background kind of every view (photo style): a procedural kind of
            ``backgrounds.PHOTO_STYLE_KINDS``, "photo" or "photo:GLOB" (file names); default random.
        floor_prob: probability of a floor / table band under the object per view (photo style).
    """

    name = "fast"

    def __init__(
        self,
        texture: float = 0.35,
        style: str = "plain",
        appearance: str | None = None,
        backgrounds: str = "all",
        photo_prob: float = 0.5,
        material: str | None = None,
        ao_rays: int = 4,
        background: str | None = None,
        floor_prob: float = 0.35,
    ):

        self.texture = float(texture)
        self.style = str(style)
        if self.style not in ("plain", "photo"):
            raise ValueError(f"style={style!r}: use 'plain' or 'photo'")
        self.backgrounds = str(backgrounds)
        if self.backgrounds not in BACKGROUND_SPLITS:
            raise ValueError(f"backgrounds={backgrounds!r}: use one of {', '.join(BACKGROUND_SPLITS)}")
        self.photo_prob = float(photo_prob)
        self.material = None if material in (None, "", "random") else str(material)
        if self.material is not None and self.material not in app.MATERIALS:
            raise ValueError(f"material={material!r}: use one of {', '.join(app.MATERIALS)}")
        self.ao_rays = int(ao_rays)
        self.background = None if background in (None, "", "random") else str(background)
        self.floor_prob = float(floor_prob)
        self.appearance = resolve_appearance_dir(appearance) if self.style == "photo" else None

    def render(
        self, mesh: trimesh.Trimesh, cameras: Sequence[OrthoCamera], seed: int, views: Sequence[tuple[float, float]]
    ) -> list[RenderedView]:
        if self.style == "photo":
            return self._render_photo(mesh, cameras, seed, views)
        rng = np.random.default_rng(seed)
        base = rng.uniform(0.25, 0.9, 3) * rng.uniform(0.6, 1.0)
        freq = rng.normal(0.0, 1.0, (8, 3)) * np.repeat([3.0, 12.0], 4)[:, None]  # coarse and fine waves
        phase = rng.uniform(0, 2 * np.pi, 8)
        lights = (
            _unit(np.array([rng.normal(0, 1), abs(rng.normal(1, 0.5)), rng.normal(0, 1)])),
            _unit(rng.normal(0, 1, 3)),
        )
        power = rng.uniform(0.55, 0.8), rng.uniform(0.1, 0.3)
        ambient = rng.uniform(0.08, 0.2)
        backgrounds = rng.uniform(0.05, 0.95, (len(cameras), 2, 3))

        hits = raycast(mesh, cameras)
        vertex_normals = np.asarray(mesh.vertex_normals, np.float64)
        faces = np.asarray(mesh.faces)
        out = []
        for i, (camera, (azimuth, elevation)) in enumerate(zip(cameras, views)):
            mask, depth = hits.mask[i], hits.depth[i]
            h, w = mask.shape
            top, bottom = backgrounds[i]
            image = np.broadcast_to(np.linspace(0, 1, h)[:, None, None] * (bottom - top) + top, (h, w, 3)).copy()
            if mask.any():
                normal, points = _surface(hits, i, camera, vertex_normals, faces)
                pattern = 0.5 + 0.5 * np.sin(points @ freq.T + phase).mean(1)
                albedo = base * (1 - self.texture + self.texture * pattern)[:, None]
                light = ambient + sum(p * np.clip(normal @ l, 0, None) for p, l in zip(power, lights))
                image[mask] = albedo * light[:, None]
            image = np.clip(image, 0, 1) ** (1 / 2.2)  # linear -> display gamma
            out.append(
                RenderedView(
                    image=(image * 255 + 0.5).astype(np.uint8),
                    depth=depth,
                    mask=mask,
                    camera=camera,
                    azimuth=azimuth,
                    elevation=elevation,
                )
            )
        return out

    def _render_photo(
        self, mesh: trimesh.Trimesh, cameras: Sequence[OrthoCamera], seed: int, views: Sequence[tuple[float, float]]
    ) -> list[RenderedView]:

        rng = np.random.default_rng([int(seed), 0x9407])
        material = app.random_material(rng, self.appearance, self.material)
        lighting = app.random_lighting(rng, self.appearance)
        view_seeds = rng.integers(0, 2**63, len(cameras))
        hits = raycast(mesh, cameras)
        vertex_normals = np.asarray(mesh.vertex_normals, np.float64)
        faces = np.asarray(mesh.faces)
        scene = app.make_scene(mesh.vertices, faces) if hits.mask.any() else None
        out = []
        for i, (camera, (azimuth, elevation)) in enumerate(zip(cameras, views)):
            view_rng = np.random.default_rng(int(view_seeds[i]))
            mask, depth = hits.mask[i], hits.depth[i]
            h, w = mask.shape
            background, kind = backgrounds.photo_style_background(
                view_rng, h, w, self.appearance, self.backgrounds, self.photo_prob, self.background
            )
            if view_rng.uniform() < self.floor_prob:
                background = backgrounds.add_floor(view_rng, background, mask)
                kind += "+floor"
            foreground = np.zeros((h, w, 3), np.float32)
            if mask.any():
                normal, points = _surface(hits, i, camera, vertex_normals, faces)
                forward = camera.world_to_camera[2, :3]
                foreground[mask] = app.shade(scene, points, normal, -forward, material, lighting, self.ao_rays)
            image, alpha = app.composite(foreground, background, mask)
            out.append(
                RenderedView(
                    image=app.camera_effects(view_rng, image),
                    depth=depth,
                    mask=mask,
                    camera=camera,
                    azimuth=azimuth,
                    elevation=elevation,
                    coverage=alpha,
                    background=kind,
                )
            )
        return out
