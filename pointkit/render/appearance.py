"""Photographic appearance for the fast renderer (``FastRenderer(style="photo")``).

numpy and cv2 (plus open3d ray casts for shadows and ambient occlusion), seeded by
``np.random.Generator``. Assets (HDR environments, texture sets, background photos) are read in
place from an appearance folder (:mod:`pointkit.render.assets`). Shading maths (SH light,
triplanar maps, value noise) is the torch core :mod:`pointkit.shading`, shared with the engine.

Pieces:
- lighting: diffuse irradiance of an HDRI via 9 spherical-harmonic coefficients (Ramamoorthi &
  Hanrahan 2001; ``E(n) = sum_lm A_l L_lm Y_lm(n)``, so a constant environment L gives pi L),
  rotated about +Y, scaled by an exposure, plus 0-2 directional lights with ray-cast shadows and
  a short-ray ambient occlusion;
- materials: procedural marble, bronze (with patina), stone / granite / sandstone speckle,
  terracotta, plaster, wood, or an image texture mapped triplanarly; all functions of the world
  position so the surface looks the same from every view;
- backgrounds: :mod:`pointkit.backgrounds` (the photo style's mix there);
- camera: exposure and white-balance jitter, vignetting, defocus blur, sensor noise, JPEG.

Licence note: ``backgrounds/humus_*`` are CC BY 3.0 (credit "cube-map photos by Emil Persson, aka
Humus - http://www.humus.name - CC BY 3.0" wherever a model trained with them is shipped); the
rest of the asset folder is CC0 / public domain (see the folder's README.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from pointkit import shading
from pointkit.render.assets import asset_listing, hdri_sh, texture_image
from pointkit.render.raycast import _open3d

MATERIALS = ("marble", "bronze", "stone", "granite", "sandstone", "terracotta", "plaster", "wood", "texture")


# ------------------------------------------------------------------------------------------ lighting


def sh_irradiance(coefficients: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 3) irradiance of (9, 3) radiance SH at unit normals (N, 3): :func:`pointkit.shading.sh_irradiance`."""
    return shading.sh_irradiance(torch.from_numpy(np.asarray(coefficients, np.float64)), _float64(normals)).numpy()


# ------------------------------------------------------------------------------ materials / noise


def _hash3(cells: np.ndarray, salt: float) -> np.ndarray:
    """Pseudo-random [0, 1) per integer 3D cell (N, 3)."""
    h = np.sin(cells @ np.array([12.9898, 78.233, 37.719]) + salt) * 43758.5453
    return h - np.floor(h)


def _turbulence(points: np.ndarray, freq: np.ndarray, phase: np.ndarray) -> np.ndarray:
    """Sum over octaves of |sin| of random plane waves: (N,) roughly in [0, 1]."""
    octaves = freq.shape[0]
    t = np.abs(np.sin(points @ freq.reshape(-1, 3).T + phase.reshape(-1)))  # (N, octaves * k)
    weights = np.repeat(0.5 ** np.arange(octaves), freq.shape[1])
    return (t * weights).sum(1) / weights.sum()


@dataclass
class Material:
    """A world-space material: ``albedo(points, normals, ao)`` plus scalar shading parameters."""

    kind: str
    tint: np.ndarray
    roughness: float
    metallic: float
    params: dict = field(default_factory=dict)

    def albedo(self, points: np.ndarray, normals: np.ndarray, ao: np.ndarray | None = None) -> np.ndarray:
        p, k, tint = points, self.params, self.tint
        if self.kind == "marble":
            t = _turbulence(p, k["freq"], k["phase"])
            vein = np.abs(np.sin(p @ k["axis"] * k["scale"] + k["amp"] * t * 6)) ** k["sharp"]
            light = 1 - k["vein"] * (1 - vein)
            return tint * light[:, None]
        if self.kind == "bronze":
            t = _turbulence(p, k["freq"], k["phase"])
            patina = np.clip((t - k["threshold"]) * 4, 0, 1)
            if ao is not None:
                patina = np.clip(patina + (1 - ao) * k["crevice"], 0, 1)
            return tint * (1 - patina[:, None]) + k["patina"] * patina[:, None]
        if self.kind in ("stone", "granite", "sandstone"):
            fine = _hash3(np.floor(p * k["cells"]), k["salt"])
            t = _turbulence(p, k["freq"], k["phase"])
            speck = np.where(fine > 1 - k["density"], k["dark"], 1.0)
            return tint * ((1 - k["mottle"]) + k["mottle"] * t)[:, None] * speck[:, None]
        if self.kind == "wood":
            r = np.linalg.norm(np.cross(p - k["centre"], k["axis"]), axis=1)
            t = _turbulence(p, k["freq"], k["phase"])
            rings = 0.5 + 0.5 * np.sin(r * k["scale"] + 3 * t)
            return tint * (0.75 + 0.25 * rings)[:, None]
        if self.kind == "texture":
            return tint * _triplanar(k["image"], p * k["scale"] + k["offset"], normals)
        t = _turbulence(p, k["freq"], k["phase"])  # terracotta, plaster: mild mottling
        return tint * ((1 - k["mottle"]) + k["mottle"] * t)[:, None]


def _triplanar(image: np.ndarray, p: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 3) float32 colours of a tiling image (h, w, 3) float32 mapped triplanarly
    (:func:`pointkit.shading.triplanar`) at points and normals (N, 3)."""
    texture = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    return shading.triplanar(texture, _float64(p)[None], _float64(normals)[None])[0].float().numpy()


def random_material(rng: np.random.Generator, root: Path | None, kind: str | None = None) -> Material:
    """Draw a material (``kind`` one of MATERIALS, or None for a random one)."""
    kind = kind or str(rng.choice(MATERIALS, p=[0.17, 0.15, 0.1, 0.08, 0.08, 0.1, 0.1, 0.07, 0.15]))
    jitter = lambda: rng.uniform(0.9, 1.1, 3)  # noqa: E731
    freq = rng.normal(0, 1, (3, 3, 3)) * np.array([2.0, 5.0, 12.0])[:, None, None]
    phase = rng.uniform(0, 2 * np.pi, (3, 3))
    params = {"freq": freq, "phase": phase}
    if kind == "marble":
        tint = rng.uniform(0.75, 0.92) * np.array([1.0, 0.98, 0.95]) * jitter() ** 0.3
        params.update(
            axis=_unit(rng.normal(0, 1, 3)),
            scale=rng.uniform(3, 9),
            amp=rng.uniform(0.5, 1.5),
            sharp=rng.uniform(0.2, 0.6),
            vein=rng.uniform(0.25, 0.6),
        )
        roughness, metallic = rng.uniform(0.15, 0.4), 0.0
    elif kind == "bronze":
        tint = np.array([0.45, 0.3, 0.15]) * rng.uniform(0.4, 1.0) * jitter()
        params.update(
            threshold=rng.uniform(0.45, 1.0),
            crevice=rng.uniform(0.3, 1.2),
            patina=np.array([0.12, 0.3, 0.22]) * rng.uniform(0.6, 1.3) * jitter(),
        )
        roughness, metallic = rng.uniform(0.25, 0.6), rng.uniform(0.7, 1.0)
    elif kind in ("stone", "granite", "sandstone"):
        base = {"stone": [0.45, 0.44, 0.42], "granite": [0.5, 0.48, 0.47], "sandstone": [0.72, 0.58, 0.4]}[kind]
        tint = np.array(base) * rng.uniform(0.7, 1.2) * jitter()
        params.update(
            cells=rng.uniform(60, 200),
            salt=rng.uniform(0, 100),
            density=rng.uniform(0.05, 0.4),
            dark=rng.uniform(0.3, 0.8),
            mottle=rng.uniform(0.1, 0.35),
        )
        roughness, metallic = rng.uniform(0.6, 0.95), 0.0
    elif kind == "wood":
        tint = np.array([0.45, 0.28, 0.14]) * rng.uniform(0.5, 1.3) * jitter()
        params.update(axis=_unit(rng.normal(0, 1, 3)), centre=rng.normal(0, 1, 3), scale=rng.uniform(20, 60))
        roughness, metallic = rng.uniform(0.2, 0.7), 0.0  # varnished ... matte paint
    elif kind == "texture":
        sets = asset_listing(str(root), "textures", "/") if root is not None else ()
        if not sets:
            return random_material(rng, root, "stone")
        folder = sets[int(rng.integers(len(sets)))]
        params.update(
            image=texture_image(folder),
            scale=rng.uniform(0.3, 1.2),
            offset=rng.uniform(0, 1, 3),
            name=Path(folder).name,
        )
        tint = rng.uniform(0.75, 1.15, 3) ** 0.5
        roughness, metallic = rng.uniform(0.3, 0.9), (rng.uniform(0.5, 1.0) if "metal" in folder.lower() else 0.0)
    else:
        base = {"terracotta": [0.6, 0.3, 0.18], "plaster": [0.85, 0.84, 0.8]}[kind]
        tint = np.array(base) * rng.uniform(0.85, 1.1) * jitter() ** 0.5
        params.update(mottle=rng.uniform(0.05, 0.25) if kind == "terracotta" else rng.uniform(0.0, 0.08))
        roughness, metallic = rng.uniform(0.7, 1.0), 0.0
    return Material(kind, np.clip(tint, 0, 1), float(roughness), float(metallic), params)


@dataclass
class Lighting:
    """Environment plus directional lights, all fixed in world space.

    Attributes:
        sh: (9, 3) environment radiance SH (None: no environment light).
        rotation: environment rotation about +Y, radians.
        exposure: scale of the environment light.
        lights: directional lights as (unit direction towards the light (3,), RGB intensity (3,)).
        name: the HDRI file name (or "").
    """

    sh: np.ndarray | None
    rotation: float = 0.0
    exposure: float = 1.0
    lights: list = field(default_factory=list)
    name: str = ""

    def irradiance(self, normals: np.ndarray) -> np.ndarray:
        if self.sh is None:
            return np.zeros((len(normals), 3))
        c, s = np.cos(-self.rotation), np.sin(-self.rotation)
        rotated = normals @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]]).T
        return sh_irradiance(self.sh, rotated) * self.exposure


def random_lighting(rng: np.random.Generator, root: Path | None) -> Lighting:
    """An HDRI (random rotation and exposure) plus 0-2 directional lights."""
    files = asset_listing(str(root), "hdri", ".hdr") if root is not None else ()
    name, sh = "", None
    if files:
        path = files[int(rng.integers(len(files)))]
        name, sh = Path(path).name, hdri_sh(path)
    n = int(rng.choice([0, 1, 2], p=[0.25, 0.45, 0.3]))
    lights = []
    for i in range(n):
        if i == 0:  # key: from above, to a side
            d = np.array([rng.normal(0, 1), abs(rng.normal(1.0, 0.5)), rng.normal(0, 1)])
        else:  # fill or rim: anywhere
            d = rng.normal(0, 1, 3)
        colour = rng.uniform(0.9, 1.1, 3) * (rng.uniform(1.5, 3.0) if i == 0 else rng.uniform(0.4, 1.5))
        lights.append((_unit(d), colour))
    exposure = float(rng.uniform(0.35, 0.8) if n else rng.uniform(0.6, 1.2))
    return Lighting(sh, float(rng.uniform(0, 2 * np.pi)), exposure, lights, name)


# ------------------------------------------------------------------------------------------ shading


def make_scene(vertices: np.ndarray, faces: np.ndarray):
    """An open3d RaycastingScene of a mesh (for shadow and occlusion rays)."""
    o3d = _open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.asarray(vertices, np.float32)), o3d.core.Tensor(np.asarray(faces, np.uint32))
    )
    return scene


def _occluded(scene, origins: np.ndarray, directions: np.ndarray, tfar: float = np.inf) -> np.ndarray:
    import open3d as o3d

    rays = np.concatenate([origins, directions], 1).astype(np.float32)
    return scene.test_occlusions(o3d.core.Tensor(rays), tnear=0.0, tfar=float(tfar)).numpy().astype(bool)


def ambient_occlusion(
    scene, points: np.ndarray, normals: np.ndarray, rays: int = 6, radius: float = 0.2, offset: float = 2e-3
) -> np.ndarray:
    """(N,) in [0, 1]: 1 - fraction of ``rays`` fixed hemisphere directions around each normal that
    hit the mesh within ``radius`` (deterministic per point and normal)."""
    if rays <= 0 or len(points) == 0:
        return np.ones(len(points))
    k = np.arange(rays) + 0.5  # a fixed spiral of cosine-weighted directions in the tangent frame
    r, a = np.sqrt(k / rays), k * 2.39996
    local = np.stack([r * np.cos(a), r * np.sin(a), np.sqrt(1 - r * r)], 1)
    helper = np.where(np.abs(normals[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]])
    t = _unit(np.cross(normals, helper))
    b = np.cross(normals, t)
    dirs = local[None, :, 0:1] * t[:, None] + local[None, :, 1:2] * b[:, None] + local[None, :, 2:3] * normals[:, None]
    origins = np.repeat(points + normals * offset, rays, 0)
    hit = _occluded(scene, origins, dirs.reshape(-1, 3), radius).reshape(-1, rays)
    return 1 - hit.mean(1)


def shade(
    scene,
    points: np.ndarray,
    normals: np.ndarray,
    view_dir: np.ndarray,
    material: Material,
    lighting: Lighting,
    ao_rays: int = 6,
    shadows: bool = True,
    offset: float = 2e-3,
) -> np.ndarray:
    """Linear RGB (N, 3) of surface points: Lambert diffuse + Blinn-Phong specular (GGX-like
    roughness mapping) under the environment (SH irradiance, times ambient occlusion) and the
    directional lights (with ray-cast shadows).

    Args:
        scene: ``make_scene`` of the mesh (None: no shadows, no occlusion).
        points, normals: (N, 3) world hit points and unit normals (facing the camera).
        view_dir: (3,) unit direction from the surface towards the camera (orthographic).
    """
    ao = (
        ambient_occlusion(scene, points, normals, ao_rays, offset=offset) if scene is not None else np.ones(len(points))
    )
    albedo = material.albedo(points, normals, ao)
    metal = material.metallic
    f0 = 0.04 * (1 - metal) + albedo * metal
    diffuse_colour = albedo * (1 - metal)
    rough = max(material.roughness, 0.05)
    shininess = 2.0 / rough**4 - 2.0
    n_v = np.clip(normals @ view_dir, 0, 1)[:, None]
    fresnel = f0 + (1 - f0) * (1 - n_v) ** 5 * (1 - rough)
    env = lighting.irradiance(normals) / np.pi
    colour = diffuse_colour * env * ao[:, None]
    if lighting.sh is not None:  # blurry environment reflection: irradiance around the mirror direction
        reflect = 2 * n_v * normals - view_dir
        colour = colour + fresnel * lighting.irradiance(_unit(reflect)) / np.pi * ao[:, None] * (1 - 0.5 * rough)
    for direction, intensity in lighting.lights:
        n_l = np.clip(normals @ direction, 0, None)
        lit = n_l > 0
        if shadows and scene is not None and lit.any():
            blocked = _occluded(
                scene, points[lit] + normals[lit] * offset, np.broadcast_to(direction, (int(lit.sum()), 3))
            )
            lit[np.flatnonzero(lit)[blocked]] = False
        half = _unit(direction + view_dir)
        spec = (shininess + 8) / 8 * np.clip(normals @ half, 0, 1) ** shininess
        term = (diffuse_colour + fresnel * spec[:, None]) * (n_l * lit)[:, None]
        colour = colour + term * intensity
    return colour


# --------------------------------------------------------------------------------------------- camera


def camera_effects(rng: np.random.Generator, image: np.ndarray) -> np.ndarray:
    """Linear RGB (H, W, 3) -> display uint8 with exposure / white balance jitter, tone curve,
    vignetting, defocus blur, sensor noise and a JPEG round trip."""
    h, w = image.shape[:2]
    image = image * np.float32(2 ** rng.normal(0, 0.25)) * rng.normal(1, 0.04, 3).astype(np.float32)
    if rng.uniform() < 0.4:
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        r2 = ((xx - w / 2) ** 2 + (yy - h / 2) ** 2) / (0.5 * (h * h + w * w) / 2)
        image = image * (1 - rng.uniform(0.1, 0.4) * r2)[..., None]
    image = np.clip(image, 0, None)
    image = image / (1 + image / 4)  # soft highlight roll-off
    image = np.clip(image * 1.25, 0, 1) ** (1 / 2.2)
    if rng.uniform() < 0.5:
        image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), rng.uniform(0.3, 0.9) * w / 128)
    sigma = rng.uniform(0.0, 0.025)
    image = image + rng.normal(0, sigma, image.shape).astype(np.float32) * np.sqrt(image + 0.02)
    out = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    if rng.uniform() < 0.8:
        ok, data = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 96))])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)


def composite(foreground: np.ndarray, background: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Anti-aliased composite: the object colour is extended 1 px past the mask (normalised
    convolution) and blended with a 1 px feathered alpha. Returns (image, alpha)."""
    m = mask.astype(np.float32)
    alpha = cv2.GaussianBlur(m, (3, 3), 0.6)
    alpha = np.where(mask, np.maximum(alpha, 0.5), np.minimum(alpha, 0.5)).astype(np.float32)
    weight = cv2.blur(m, (3, 3))
    spread = cv2.blur(foreground * m[..., None], (3, 3)) / np.maximum(weight, 1e-6)[..., None]
    fg = np.where(mask[..., None], foreground, spread)
    return fg * alpha[..., None] + background * (1 - alpha[..., None]), alpha


def _float64(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.asarray(array, np.float64))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)
