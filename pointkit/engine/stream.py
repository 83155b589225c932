"""``SynthStream``: training batches in the ``collate_pairs`` format, made on the fly in torch."""

from __future__ import annotations

import torch

from pointkit.backgrounds import ENGINE_MIXES
from pointkit.engine.appearance import EngineAppearance
from pointkit.engine.render import OrthoCameras, Traced, orbit_cameras, pair_correspondences, shade, trace
from pointkit.engine.sdf import ShapeBank
from pointkit.errors import PointkitError


class SynthStream:
    """An endless stream of (source view, correspondences to a target view) items.

    Each item of ``next_batch`` draws a random shape of the bank, a random source view (azimuth
    uniform in [0, 360), elevation uniform in ``elevation``) and a target view at an azimuth
    difference of up to ``max_azimuth_delta`` degrees (either side) and its own random elevation;
    both views are traced, the source is shaded, and ``corr_per_pair`` correspondences are drawn.

    Args:
        shapes: a ``ShapeBank`` (moved to ``device``).
        input_size: image side S.
        views: optional fixed (azimuth, elevation) list in degrees; when given, each item uses an
            ordered pair of distinct entries instead of random angles.
        corr_per_pair: K (the ``src`` / ``tgt`` width; ``valid`` marks the real ones, first).
        device: "cuda", "cpu", a torch.device; default CUDA when available.
        elevation: (low, high) degrees of random elevations.
        max_azimuth_delta: degrees.
        steps, refine: sphere-tracing steps and bisection steps (``trace``).
        appearance: optional ``EngineAppearance`` (background photos, texture maps, HDRI light).
        photo_prob: probability of a photo background when ``appearance`` has photos.
        backgrounds: the background mix, "studio" (the engine's) or "photo" (the fast renderer's
            photo style: cloth, gradients, clutter, floors; per view on the CPU); see ``shade``.
        zoom: (low, high): each batch is framed tighter by a factor drawn uniformly in this range
            (1: the whole unit sphere in view, as ``OrthoCamera.orbit``; 1.5: objects may fill
            the frame and be cut by it, as in close-up photos). The same factor for both views.
    """

    def __init__(
        self,
        shapes: ShapeBank,
        input_size: int = 128,
        views=None,
        corr_per_pair: int = 200,
        device=None,
        elevation=(-10.0, 30.0),
        max_azimuth_delta: float = 60.0,
        steps: int = 48,
        refine: int = 6,
        appearance: EngineAppearance | None = None,
        photo_prob: float = 0.5,
        zoom: tuple[float, float] = (1.0, 1.0),
        backgrounds: str = "studio",
    ):
        if len(shapes) == 0:
            raise PointkitError("the shape bank is empty; build one with ShapeBank.from_meshes")
        self.device = torch.device(device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu"))
        self.shapes = shapes.to(self.device)
        self.size, self.k = int(input_size), int(corr_per_pair)
        self.views = (
            None if views is None else torch.tensor(views, dtype=torch.float32, device=self.device).reshape(-1, 2)
        )
        if self.views is not None and len(self.views) < 2:
            raise PointkitError("views needs at least two (azimuth, elevation) entries")
        self.elevation = tuple(float(e) for e in elevation)
        self.max_delta = float(max_azimuth_delta)
        self.steps, self.refine = int(steps), int(refine)
        self.appearance = (appearance or EngineAppearance()).to(self.device)
        self.photo_prob = float(photo_prob)
        if backgrounds not in ENGINE_MIXES:
            raise PointkitError(f"backgrounds={backgrounds!r}: use one of {', '.join(ENGINE_MIXES)}")
        self.backgrounds = backgrounds
        self.zoom = (float(zoom[0]), float(zoom[1]))
        if not 0 < self.zoom[0] <= self.zoom[1]:
            raise PointkitError(f"zoom {zoom}: need 0 < low <= high")

    def generator(self, seed: int) -> torch.Generator:
        """A generator on the stream's device seeded with ``seed``."""
        return torch.Generator(device=self.device).manual_seed(int(seed))

    def _angles(self, b: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        dev = self.device
        if self.views is not None:
            n = len(self.views)
            s = torch.randint(n, (b,), generator=g, device=dev)
            t = (s + torch.randint(1, n, (b,), generator=g, device=dev)) % n
            pick = torch.stack([s, t], 1)
            return self.views[pick, 0], self.views[pick, 1]
        lo, hi = self.elevation
        az_s = torch.rand(b, generator=g, device=dev) * 360.0
        delta = (torch.rand(b, generator=g, device=dev) * 2 - 1) * self.max_delta
        el = lo + (hi - lo) * torch.rand(b, 2, generator=g, device=dev)
        return torch.stack([az_s, az_s + delta], 1), el

    @torch.no_grad()
    def next_batch(self, batch_size: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """B items: image (B,3,S,S) uint8, mask (B,S,S) bool, depth (B,S,S) float32 (source view),
        src / tgt (B,K,2) float32 pixel coordinates, valid (B,K) bool (valid rows first)."""
        g = generator
        B = int(batch_size)
        index = torch.randint(len(self.shapes), (B,), generator=g, device=self.device)
        az, el = self._angles(B, g)
        cams = orbit_cameras(az, el, self.size)  # (B, 2)
        lo, hi = self.zoom
        if hi > lo or lo != 1.0:
            zoom = lo + (hi - lo) * float(torch.rand((), generator=g, device=self.device))
            cams = OrthoCameras(cams.world_to_camera, cams.scale * zoom, cams.resolution)
        traced = trace(self.shapes.sdf(index), cams, self.shapes.bound, self.steps, self.refine)
        src_cam = OrthoCameras(cams.world_to_camera[:, :1], cams.scale, cams.resolution)
        src_view = Traced(traced.depth[:, :1], traced.mask[:, :1], traced.normal[:, :1], traced.points[:, :1])
        image = shade(src_view, src_cam, g, self.appearance, self.photo_prob, self.backgrounds)[:, 0]
        depth, mask = traced.depth[:, 0], traced.mask[:, 0]
        src, tgt, valid = pair_correspondences(
            depth,
            mask,
            OrthoCameras(cams.world_to_camera[:, 0], cams.scale, cams.resolution),
            traced.depth[:, 1],
            traced.mask[:, 1],
            OrthoCameras(cams.world_to_camera[:, 1], cams.scale, cams.resolution),
            self.k,
            g,
        )
        order = torch.sort((~valid).to(torch.uint8), dim=1, stable=True).indices
        src = src.gather(1, order[..., None].expand_as(src))
        tgt = tgt.gather(1, order[..., None].expand_as(tgt))
        valid = valid.gather(1, order)
        return {
            "image": image.contiguous(),
            "mask": mask.contiguous(),
            "depth": depth.contiguous(),
            "src": src.contiguous(),
            "tgt": tgt.contiguous(),
            "valid": valid.contiguous(),
        }

    def __iter__(self):
        raise PointkitError("SynthStream is not iterable; call next_batch(batch_size, generator)")
