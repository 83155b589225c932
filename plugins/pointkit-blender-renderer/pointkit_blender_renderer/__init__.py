"""pointkit's Blender renderer: photoreal orthographic views with Cycles on the CPU, headless.

Registered as the ``blender`` plugin of the entry-point group ``pointkit.renderers``. Importing
this package does not import bpy; ``BlenderRenderer.render`` does (about 1.5 s the first time).

RGB comes from Cycles with a random material (bronze, marble, stone or painted plaster), random
sun, fill light and world light, all drawn from the seed, rendered over a transparent film; the
background (a random vertical gradient) is composited in numpy with Cycles' alpha. Depth and
mask are exact, from ray casting the same mesh with the same cameras (pointkit.render.raycast):
with an orthographic camera this is simpler and more exact than EXR depth passes.

``style="photo"`` makes images that look like photographs: an HDRI world, image-texture or
procedural materials, an optional key light, a background photo and mild camera effects, from the
appearance assets folder (``assets``, ``$POINTKIT_APPEARANCE`` or ``<repo>/../shared/data/appearance``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from pointkit.errors import PointkitError

from pointkit.geometry.camera import OrthoCamera
from pointkit.render.raycast import raycast
from pointkit.render.views import RenderedView

MATERIALS = ("bronze", "marble", "stone", "plaster")
PHOTO_MATERIALS = ("texture", "marble", "bronze", "plaster", "terracotta", "stone")
STYLES = ("plain", "photo")
ENV_VAR = "POINTKIT_APPEARANCE"


def resolve_assets(path: str | os.PathLike | None = None) -> Path:
    """The appearance assets folder: ``path``, else ``$POINTKIT_APPEARANCE``, else
    ``<repo>/../shared/data/appearance``; PointkitError when it is missing."""
    if path:
        candidate, how = Path(path).expanduser(), "the assets option"
    elif os.environ.get(ENV_VAR):
        candidate, how = Path(os.environ[ENV_VAR]).expanduser(), f"${ENV_VAR}"
    else:
        import pointkit

        candidate = Path(pointkit.__file__).resolve().parents[1] / ".." / "shared" / "data" / "appearance"
        how = "the default location"
    if all((candidate / sub).is_dir() for sub in ("hdri", "textures", "backgrounds")):
        return candidate.resolve()
    raise PointkitError(f"blender style=photo: appearance assets folder {candidate} (from {how}) is missing or "
                        f"lacks hdri/, textures/, backgrounds/; pass --option assets=DIR or set {ENV_VAR}=DIR")


class BlenderRenderer:
    """Cycles CPU renderer.

    Args:
        samples: Cycles samples per pixel (16 is quick and noisy; 64-128 for final data).
        denoise: run Cycles' OpenImageDenoise pass (slower, smoother).
        material: force one of ``MATERIALS``; None draws one per object from the seed.
        threads: CPU threads for Cycles; 0 uses all.
        style: "plain" (the original look, byte for byte) or "photo" (HDRI world, texture-set or
            procedural materials, background photos, camera effects; needs the assets folder).
        assets: the appearance assets folder for the photo style (default ``$POINTKIT_APPEARANCE``,
            else ``<repo>/../shared/data/appearance``).
        hdri: photo style: only HDRIs whose file name contains this string.
        background: photo style: only background photos whose file name contains this string
            (then always a photo); None draws a photo (75 %) or a black / white / gradient backdrop.
        effects: photo style: camera effects (exposure jitter, sensor noise, JPEG round trip).
        key_light: photo style: probability of an extra area / sun key light.
        tint: photo style: (r, g, b) linear base colour (procedural) or multiplier (texture sets).
        exposure: photo style: exposure in stops added to the drawn lighting (Blender's film exposure).
    """

    name = "blender"

    def __init__(self, samples: int | None = None, denoise: bool | None = None, material: str | None = None,
                 threads: int = 0, style: str = "plain", assets: str | None = None, hdri: str | None = None,
                 background: str | None = None, effects: bool = True, key_light: float = 0.5,
                 tint: Sequence[float] | None = None, exposure: float = 0.0):
        if style not in STYLES:
            raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
        allowed = PHOTO_MATERIALS if style == "photo" else MATERIALS
        if material is not None and material not in allowed:
            raise ValueError(f"unknown material {material!r} for style {style!r}; choose one of {allowed}")
        photo = style == "photo"
        self.samples = int(samples if samples is not None else (24 if photo else 16))
        self.denoise = bool(denoise if denoise is not None else photo)
        self.material, self.threads, self.style = material, int(threads), style
        self.assets, self.hdri, self.background = assets, hdri, background
        self.effects, self.key_light, self.exposure = bool(effects), float(key_light), float(exposure)
        self.tint = tuple(float(t) for t in tint) if tint is not None else None

    def render(self, mesh, cameras: Sequence[OrthoCamera], seed: int,
               views: Sequence[tuple[float, float]]) -> list[RenderedView]:
        """Render a normalised trimesh from each camera (see pointkit.render.views.Renderer)."""
        if self.style == "photo":
            return self._render_photo(mesh, cameras, seed, views)
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

    def _render_photo(self, mesh, cameras, seed, views) -> list[RenderedView]:
        root = resolve_assets(self.assets)
        from pointkit_blender_renderer import scene

        rng = np.random.default_rng(seed)
        material = self.material or PHOTO_MATERIALS[int(rng.integers(len(PHOTO_MATERIALS)))]
        scene.build_photo(mesh, rng, root, material=material, samples=self.samples, denoise=self.denoise,
                          threads=self.threads, seed=int(seed), hdri=self.hdri, key_light=self.key_light,
                          tint=self.tint, exposure=self.exposure)
        hits = raycast(mesh, cameras)
        out = []
        for i, (camera, (azimuth, elevation)) in enumerate(zip(cameras, views)):
            rgba = scene.render_linear(camera)
            alpha = rgba[..., 3:]
            h, w = alpha.shape[:2]
            background, kind = _background(rng, h, w, root, self.background)
            # straight alpha: composite "over" in linear light, so silhouettes stay anti-aliased
            image = rgba[..., :3] * alpha + background * (1 - alpha)
            image = _camera(rng, image, self.effects)
            out.append(RenderedView(image=image, depth=hits.depth[i], mask=hits.mask[i], camera=camera,
                                    azimuth=azimuth, elevation=elevation, coverage=alpha[..., 0].copy(),
                                    background=kind))
        return out


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _background(rng: np.random.Generator, h: int, w: int, root: Path, name: str | None) -> tuple[np.ndarray, str]:
    """A linear-RGB (H, W, 3) float32 background: a random crop of a photo from ``root/backgrounds``
    (random scale, flip, exposure), or a black / white / vertical-gradient backdrop."""
    import cv2

    photos = sorted(p for p in (root / "backgrounds").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if name:
        photos = [p for p in photos if name in p.name]
        if not photos:
            raise PointkitError(f"blender style=photo: no background photo matching {name!r} in {root / 'backgrounds'}")
    if photos and (name or rng.uniform() < 0.75):
        path = photos[int(rng.integers(len(photos)))]
        photo = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if photo is None:
            raise PointkitError(f"cannot read background photo {path}")
        ih, iw = photo.shape[:2]
        size = rng.uniform(0.5, 1.0) * min(ih, iw * h / w)
        ch, cw = max(1, int(size)), max(1, min(iw, int(size * w / h)))
        y0, x0 = int(rng.integers(0, ih - ch + 1)), int(rng.integers(0, iw - cw + 1))
        crop = cv2.resize(photo[y0:y0 + ch, x0:x0 + cw], (w, h), interpolation=cv2.INTER_AREA)[..., ::-1]
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        out = _srgb_to_linear(np.ascontiguousarray(crop, np.float32) / 255.0) * np.float32(rng.uniform(0.7, 1.2))
        return out, f"photo:{path.name}"
    kind = ("black", "white", "gradient")[int(rng.integers(3))]
    if kind == "black":
        level = np.full(3, rng.uniform(0.002, 0.02))
        return np.broadcast_to(level.astype(np.float32), (h, w, 3)).copy(), kind
    if kind == "white":
        level = rng.uniform(0.5, 0.9) * rng.normal(1, 0.03, 3)
        return np.broadcast_to(level.astype(np.float32), (h, w, 3)).copy(), kind
    # muted colours: a grey level with a slight tint at each end
    top, bottom = (rng.uniform(0.05, 0.9, (2, 1)) * rng.normal(1, 0.08, (2, 3))).clip(0, 1) ** 2.2
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    return (y * (bottom - top) + top).astype(np.float32) * np.ones((1, w, 1), np.float32), kind


def _camera(rng: np.random.Generator, linear: np.ndarray, effects: bool) -> np.ndarray:
    """Linear RGB -> sRGB uint8, with mild camera effects when ``effects``: exposure / white
    balance jitter, signal-dependent sensor noise, a JPEG round trip (quality 75-95)."""
    if effects:
        linear = linear * np.float32(2 ** rng.normal(0, 0.15)) * rng.normal(1, 0.02, 3).astype(np.float32)
    x = np.clip(linear, 0, 1)
    srgb = np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055)
    if effects:
        sigma = rng.uniform(0.0, 0.015)
        srgb = srgb + rng.normal(0, 1, srgb.shape) * sigma * np.sqrt(srgb + 0.01)
    out = (np.clip(srgb, 0, 1) * 255 + 0.5).astype(np.uint8)
    if effects and rng.uniform() < 0.7:
        import cv2

        ok, data = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 96))])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)
