"""The pointkit side of the Blender renderer: ``BlenderRenderer`` sends a scene description (mesh
arrays, cameras, material and lighting options, the random generator's state) to the worker
process (``worker.py``, started by ``process.py``) and gets PNGs back; depth and mask come from
ray casting here, backgrounds and camera effects are drawn here. See the package docstring.
"""

from __future__ import annotations

import os
import shutil
import weakref
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pointkit.backgrounds import crop_photo, vertical_gradient
from pointkit.errors import PointkitError
from pointkit.geometry.camera import OrthoCamera
from pointkit.render.assets import list_backgrounds
from pointkit.render.raycast import raycast
from pointkit.render.views import RenderedView
from pointkit_blender_renderer.process import InProcess, WorkerProcess

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
    raise PointkitError(
        f"blender style=photo: appearance assets folder {candidate} (from {how}) is missing or "
        f"lacks hdri/, textures/, backgrounds/; pass --option assets=DIR or set {ENV_VAR}=DIR"
    )


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

    def __init__(
        self,
        samples: int | None = None,
        denoise: bool | None = None,
        material: str | None = None,
        threads: int = 0,
        style: str = "plain",
        assets: str | None = None,
        hdri: str | None = None,
        background: str | None = None,
        effects: bool = True,
        key_light: float = 0.5,
        tint: Sequence[float] | None = None,
        exposure: float = 0.0,
    ):
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
        self._transport, self._finalizer, self._pid, self._objects = None, None, None, 0

    @classmethod
    def in_process(cls, **options) -> BlenderRenderer:
        """This renderer with the worker's handler called in this process (bpy imported here), as
        before the worker existed: the baseline of benchmarks/render.py and of the identity tests."""
        renderer = cls(**options)
        renderer._use(InProcess())
        return renderer

    @property
    def worker_pid(self) -> int | None:
        """The process id that rendered the last object (None before the first)."""
        return self._pid

    def close(self) -> None:
        """End the worker process now (it also ends when this renderer is garbage or at exit)."""
        if self._transport is not None:
            self._finalizer()
            self._transport = None

    def __getstate__(self) -> dict:  # a pickled renderer starts its own worker
        state = dict(self.__dict__)
        state.update(_transport=None, _finalizer=None, _pid=None)
        return state

    def _use(self, transport) -> None:
        self._transport = transport
        self._finalizer = weakref.finalize(self, transport.close)

    def render(
        self, mesh, cameras: Sequence[OrthoCamera], seed: int, views: Sequence[tuple[float, float]]
    ) -> list[RenderedView]:
        """Render a normalised trimesh from each camera (see pointkit.render.views.Renderer)."""
        photo = self.style == "photo"
        root = resolve_assets(self.assets) if photo else None
        # The generator is shared with the worker: it draws the material here, the scene's numbers
        # there (from the state sent), and the backgrounds and camera effects here (from the state
        # returned), so the images are those of the former in-process renderer, byte for byte.
        rng = np.random.default_rng(seed)
        materials = PHOTO_MATERIALS if photo else MATERIALS
        material = self.material or materials[int(rng.integers(len(materials)))]
        build = {
            "material": material,
            "samples": self.samples,
            "denoise": self.denoise,
            "threads": self.threads,
            "seed": int(seed),
        }
        arrays = {"vertices": np.asarray(mesh.vertices, np.float64), "faces": np.asarray(mesh.faces, np.int64)}
        if photo:
            build.update(
                root=str(root),
                hdri=self.hdri,
                key_light=self.key_light,
                exposure=self.exposure,
                tint=list(self.tint) if self.tint is not None else None,
            )
            arrays["face_normals"] = np.asarray(mesh.face_normals, np.float64)
        if self._transport is None:
            self._use(WorkerProcess())
        self._objects += 1
        out = self._transport.folder / f"object-{self._objects}"
        try:
            response = self._transport.request(
                {
                    "op": "render",
                    "style": self.style,
                    "mesh": arrays,
                    "rng": rng.bit_generator.state,
                    "build": build,
                    "cameras": [camera_dict(c) for c in cameras],
                    "out": str(out),
                }
            )
            if not response.get("ok"):
                raise PointkitError(f"blender worker: {response.get('error')}")
            self._pid = response["pid"]
            rng.bit_generator.state = response["rng"]
            hits = raycast(mesh, cameras)
            if photo:
                return self._composite_photo(rng, root, response["images"], hits, cameras, views)
            return self._composite_plain(rng, response["images"], hits, cameras, views)
        finally:
            shutil.rmtree(out, ignore_errors=True)

    def _composite_plain(self, rng, images, hits, cameras, views) -> list[RenderedView]:
        out = []
        for i, (path, camera, (azimuth, elevation)) in enumerate(zip(images, cameras, views)):
            rgba = _read_png(path)
            alpha = rgba[..., 3:] / 255.0
            h = rgba.shape[0]
            top, bottom = rng.uniform(0.05, 0.95, (2, 3))
            background = vertical_gradient(top, bottom, h, rgba.shape[1]).astype(np.float64) ** (1 / 2.2) * 255
            # Cycles writes straight (unassociated) alpha to PNG: composite "over" the background.
            image = rgba[..., :3] * alpha + background * (1 - alpha)
            out.append(
                RenderedView(
                    image=np.clip(image + 0.5, 0, 255).astype(np.uint8),
                    depth=hits.depth[i],
                    mask=hits.mask[i],
                    camera=camera,
                    azimuth=azimuth,
                    elevation=elevation,
                    coverage=alpha[..., 0].astype(np.float32),
                )
            )
        return out

    def _composite_photo(self, rng, root, images, hits, cameras, views) -> list[RenderedView]:
        out = []
        for i, (path, camera, (azimuth, elevation)) in enumerate(zip(images, cameras, views)):
            rgba = _read_png_linear(path)
            alpha = rgba[..., 3:]
            h, w = alpha.shape[:2]
            background, kind = _background(rng, h, w, root, self.background)
            # straight alpha: composite "over" in linear light, so silhouettes stay anti-aliased
            image = rgba[..., :3] * alpha + background * (1 - alpha)
            image = _camera(rng, image, self.effects)
            out.append(
                RenderedView(
                    image=image,
                    depth=hits.depth[i],
                    mask=hits.mask[i],
                    camera=camera,
                    azimuth=azimuth,
                    elevation=elevation,
                    coverage=alpha[..., 0].copy(),
                    background=kind,
                )
            )
        return out


def camera_dict(camera: OrthoCamera) -> dict:
    """An OrthoCamera as the JSON-able dict ``scene.place_camera`` takes (floats round-trip exactly)."""
    return {
        "resolution": [int(x) for x in camera.resolution],
        "world_to_camera": camera.world_to_camera.tolist(),
        "scale": float(camera.scale),
        "centre": [float(c) for c in camera.centre],
    }


def _read_png(path: str) -> np.ndarray:
    """The plain style's 8-bit PNG: (H, W, 4) float64 RGBA in [0, 255], straight alpha."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGBA"), np.float64)


def _read_png_linear(path: str) -> np.ndarray:
    """The photo style's 16-bit sRGB PNG: (H, W, 4) float32, RGB linear, straight alpha in [0, 1]."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise PointkitError(f"blender worker: cannot read its image {path}")
    rgba = image[..., [2, 1, 0, 3]].astype(np.float32) / 65535.0
    srgb = rgba[..., :3]
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    return np.concatenate([linear, rgba[..., 3:]], -1).astype(np.float32)


def _srgb_to_linear(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def _background(rng: np.random.Generator, h: int, w: int, root: Path, name: str | None) -> tuple[np.ndarray, str]:
    """A linear-RGB (H, W, 3) float32 background: a random crop of a photo from ``root/backgrounds``
    (random scale, flip, exposure), or a black / white / vertical-gradient backdrop. Painted by
    :mod:`pointkit.backgrounds`; this style's own mix of them is drawn here."""
    import cv2

    photos = list_backgrounds(root)
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
        crop = crop_photo(photo[..., ::-1].astype(np.float32) / 255.0, x0, y0, cw, ch, h, w)
        if rng.uniform() < 0.5:
            crop = crop[:, ::-1]
        out = _srgb_to_linear(np.ascontiguousarray(crop)) * np.float32(rng.uniform(0.7, 1.2))
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
    return vertical_gradient(top, bottom, h, w), kind


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

        _, data = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(75, 96))])
        out = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1]
    return np.ascontiguousarray(out)
