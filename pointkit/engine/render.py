"""Orthographic views of SDF grids in torch: cameras, sphere tracing, shading, correspondences.

Everything runs on the device of its inputs (CUDA or CPU) and draws randomness only from the
``torch.Generator`` passed in (on that device), so the same seed gives the same tensors there.
Conventions are pointkit's (docs/conventions.md): pixel centres at i + 0.5, camera x right,
y down, z forward, depth = camera z, ``u = s x + cu``; cameras are ``look_at_orbit`` cameras at
distance 2 framing the unit sphere with a 5 % margin, exactly as ``OrthoCamera.orbit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from pointkit.engine.appearance import EngineAppearance
from pointkit.errors import PointkitError
from pointkit.geometry import ortho
from pointkit.geometry.ortho import CAMERA_DISTANCE, DEFAULT_MARGIN
from pointkit.backgrounds import ENGINE_MIXES, photo_style_backgrounds, studio_backgrounds
from pointkit.shading import sh_irradiance, triplanar

TEXTURE_PROB = 0.4
"""Share of shapes with a texture map (when the bank has textures); the rest: solid sinusoids."""
ENVIRONMENT_PROB = 0.7
"""Share of shapes lit by an HDRI's irradiance (when the bank has SH); the rest: flat ambient."""


@dataclass
class OrthoCameras:
    """A batch of square orthographic cameras in torch (any leading shape ``...``): the engine's
    form of :class:`pointkit.geometry.OrthoCamera`; the geometry is :mod:`pointkit.geometry.ortho`.

    Attributes:
        world_to_camera: (..., 3, 4) [R | t], rows of R: camera x, y, z axes in world.
        scale: pixels per world unit (s).
        resolution: image side S (principal point at (S/2, S/2)).
    """

    world_to_camera: torch.Tensor
    scale: float
    resolution: int

    @property
    def rotation(self) -> torch.Tensor:
        return self.world_to_camera[..., :3]

    @property
    def affine(self) -> torch.Tensor:
        """(..., 2, 4) world -> pixel: uv = affine @ [X, Y, Z, 1]."""
        return ortho.ortho_affine(self.world_to_camera, self.scale, (self.resolution / 2.0,) * 2)

    def project(self, points: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """World points (..., N, 3) -> uv (..., N, 2), camera depth (..., N)."""
        return ortho.project(points, self.world_to_camera, self.affine)

    def unproject(self, uv: torch.Tensor, depth: torch.Tensor) -> torch.Tensor:
        """Pixels (..., N, 2) with camera depth (..., N) -> world points (..., N, 3)."""
        return ortho.unproject(uv, depth, self.world_to_camera, self.affine)

    def pixel_rays(self) -> tuple[torch.Tensor, torch.Tensor]:
        """World ray origins (..., S*S, 3) on the plane z = 0 and directions (..., 3)."""
        origins, direction = ortho.pixel_rays(self.world_to_camera, self.affine, (self.resolution,) * 2)
        return origins.flatten(-3, -2), direction


def orbit_cameras(
    azimuth: torch.Tensor,
    elevation: torch.Tensor,
    resolution: int,
    margin: float = DEFAULT_MARGIN,
    distance: float = CAMERA_DISTANCE,
) -> OrthoCameras:
    """Cameras on the view sphere (degrees, any shape), as ``pointkit.geometry.OrthoCamera.orbit``."""
    pose = ortho.orbit_pose(azimuth.float(), elevation.float(), distance)
    return OrthoCameras(pose, ortho.orbit_scale(resolution, margin), int(resolution))


def sample_sdf(sdf: torch.Tensor, points: torch.Tensor, bound: float) -> torch.Tensor:
    """Trilinear SDF values (B, N) at world points (B, N, 3) of grids (B, 1, G, G, G)."""
    grid = (points / bound).reshape(points.shape[0], 1, 1, -1, 3)
    return F.grid_sample(sdf, grid, mode="bilinear", padding_mode="border", align_corners=True).reshape(
        points.shape[:2]
    )


@dataclass
class Traced:
    """Per-pixel results of ``trace`` for B shapes x V views at S x S.

    Attributes:
        depth: (B, V, S, S) float32 camera z, 0 off the object.
        mask: (B, V, S, S) bool.
        normal: (B, V, S, S, 3) unit world normals (outward), 0 off the object.
        points: (B, V, S, S, 3) world hit points, 0 off the object.
    """

    depth: torch.Tensor
    mask: torch.Tensor
    normal: torch.Tensor
    points: torch.Tensor


def _sdf_lookup(sdf: torch.Tensor, bound: float):
    """``lookup(points (M, 3), shape (M,) long) -> (M,)``: the trilinear SDF of grid ``shape`` of
    ``sdf`` (B, 1, G, G, G) at each world point, equal to :func:`sample_sdf` (``grid_sample``,
    ``align_corners``, border padding).

    The tracer samples a different, shrinking set of rays per grid at every step, which
    ``grid_sample`` (one equal-sized point set per grid) cannot take; so the B grids are stacked
    along z into one (B G, G, G) volume, each point's voxel coordinates are clamped into its own
    grid, and its z is offset by ``shape * G``. At a grid's last z slice the weight of the next
    grid's first slice is exactly 0, so grids never mix.
    """
    B, G = sdf.shape[0], sdf.shape[-1]
    extent = torch.tensor([G - 1, G - 1, B * G - 1], dtype=torch.float32, device=sdf.device)
    # grid_sample parallelises over its batch dimension on the CPU: the points are split into one
    # batch row per thread, each reading the same (expanded, not copied) volume.
    rows = torch.get_num_threads() if sdf.device.type == "cpu" else 1
    volume = sdf.reshape(1, 1, B * G, G, G).expand(rows, -1, -1, -1, -1)

    def lookup(points: torch.Tensor, shape: torch.Tensor) -> torch.Tensor:
        voxels = ((points / bound + 1.0) * (0.5 * (G - 1))).clamp(0, G - 1)  # (x, y, z)
        voxels[:, 2] += shape * G
        grid = voxels * (2.0 / extent) - 1.0
        M = len(grid)
        grid = F.pad(grid, (0, 0, 0, -M % rows)).reshape(rows, 1, 1, -1, 3)
        values = F.grid_sample(volume, grid, mode="bilinear", padding_mode="border", align_corners=True)
        return values.reshape(-1)[:M]

    return lookup


def _inside_box(sdf: torch.Tensor, bound: float, slack: float) -> tuple[torch.Tensor, torch.Tensor]:
    """World (x, y, z) corners (B, 3) of the box around each grid's negative voxels, grown by
    ``slack`` (a trilinear SDF is negative only within one voxel of a negative vertex); an empty
    box (lo > hi) for a grid without any."""
    G = sdf.shape[-1]
    inside = sdf[:, 0] < 0  # (B, z, y, x)
    index = torch.arange(G, device=sdf.device)
    lo, hi = [], []
    for dims in ((1, 2), (1, 3), (2, 3)):  # occupancy along x, y, z
        occupied = inside.any(dims[1]).any(dims[0])  # (B, G)
        lo.append(torch.where(occupied, index, G).amin(-1))
        hi.append(torch.where(occupied, index, -1).amax(-1))
    voxel = 2.0 * bound / (G - 1)
    lo, hi = torch.stack(lo, -1).float(), torch.stack(hi, -1).float()
    return -bound + lo * voxel - slack, -bound + hi * voxel + slack


def _ray_span(
    origins: torch.Tensor, direction: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, voxel: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(t_near, t_far) (R,) of rays (R, 3) + (R, 3) inside both the unit sphere (the object is in
    it; one voxel of slack) and their boxes ``lo``..``hi`` (R, 3); t_near >= t_far for a miss."""
    b = (origins * direction).sum(-1)
    disc = b * b - (origins * origins).sum(-1) + 1.0
    half = torch.sqrt(disc.clamp(min=0.0))
    inv = 1.0 / torch.where(direction.abs() < 1e-9, torch.full_like(direction, 1e-9), direction)
    t1, t2 = (lo - origins) * inv, (hi - origins) * inv
    t_near = torch.maximum((-b - half - voxel).clamp(min=0.0), torch.minimum(t1, t2).amax(-1))
    t_far = torch.minimum(-b + half + voxel, torch.maximum(t1, t2).amin(-1))
    return t_near, torch.where(disc > 0, t_far, torch.full_like(t_far, -1.0))


def _march(lookup, origins, direction, shape_of, t_near, t_far, steps: int, min_step: float):
    """Sphere-trace rays (R, 3) + (R, 3) of grids ``shape_of`` (R,) from ``t_near`` to ``t_far``.

    Returns (ray, t_lo, d_lo, t_hi), each (H,), of the H rays that crossed the surface: their
    index and the bracket [t_lo (SDF d_lo > 0), t_hi (SDF < 0)]. The marching rays are kept
    compact, one row each: origin (3), direction (3), t, t_far, and the last positive sample
    before t (t_lo, d_lo); ``ids`` holds (ray index, grid).
    """
    ray = (t_near < t_far).nonzero()[:, 0]
    ids = torch.stack([ray, shape_of[ray]], 1)
    t, o, u = t_near[ray, None], origins[ray], direction[ray]
    march = torch.cat([o, u, t, t_far[ray, None], t, lookup(o + t * u, ids[:, 1])[:, None]], 1)
    found = []  # per step: (ray, t_lo, d_lo, t_hi) of the rays that crossed
    for _ in range(steps):
        t = march[:, 6]
        d = lookup(march[:, 0:3] + t[:, None] * march[:, 3:6], ids[:, 1])
        crossed = d < 0
        at = crossed.nonzero()[:, 0]
        found.append((ids[at, 0], march[at, 8], march[at, 9], t[at]))
        t_next = t + d.clamp(min=min_step)
        keep = (~crossed & (t_next < march[:, 7])).nonzero()[:, 0]
        march = torch.cat([march[:, :6], t_next[:, None], march[:, 7:8], t[:, None], d[:, None]], 1)[keep]
        ids = ids[keep]
    return tuple(torch.cat(parts) for parts in zip(*found))


def trace(
    sdf: torch.Tensor,
    cameras: OrthoCameras,
    bound: float,
    steps: int = 48,
    refine: int = 6,
    min_step: float | None = None,
) -> Traced:
    """Sphere-trace every pixel ray of ``cameras`` (B, V) through grids ``sdf`` (B, 1, G, G, G).

    Each ray starts where it enters both the unit sphere and the box around its grid's negative
    voxels and steps by max(SDF, ``min_step``) (default half a voxel) for up to ``steps`` steps;
    the first sample with SDF < 0 brackets the surface with the last positive one, and ``refine``
    bisection steps plus a final secant step place it. Normals are central differences of the SDF
    (one voxel apart). Only the rays still marching are sampled at each step, and refinement and
    normals touch only the hits.
    """
    B, V = cameras.world_to_camera.shape[:2]
    S = cameras.resolution
    P, device = S * S, sdf.device
    voxel = 2.0 * bound / (sdf.shape[-1] - 1)
    min_step = 0.5 * voxel if min_step is None else float(min_step)
    origins, direction = cameras.pixel_rays()  # (B,V,P,3), (B,V,3)
    origins = origins.reshape(-1, 3)
    direction = direction[:, :, None, :].expand(B, V, P, 3).reshape(-1, 3)
    shape_of = torch.arange(B, device=device).repeat_interleave(V * P)
    lo, hi = _inside_box(sdf, bound, slack=2 * voxel)  # (B, 3) each
    t_near, t_far = _ray_span(origins, direction, lo[shape_of], hi[shape_of], voxel)
    lookup = _sdf_lookup(sdf, bound)
    hits, t_lo, d_lo, t_hi = _march(lookup, origins, direction, shape_of, t_near, t_far, steps, min_step)
    # Refine inside the bracket [t_lo (SDF > 0), t_hi (SDF < 0)].
    o, u, shape = origins[hits], direction[hits], shape_of[hits]
    d_hi = lookup(o + t_hi[:, None] * u, shape)
    for _ in range(refine):
        tm = 0.5 * (t_lo + t_hi)
        dm = lookup(o + tm[:, None] * u, shape)
        pos = dm >= 0
        t_lo, d_lo = torch.where(pos, tm, t_lo), torch.where(pos, dm, d_lo)
        t_hi, d_hi = torch.where(pos, t_hi, tm), torch.where(pos, d_hi, dm)
    w = (d_lo / (d_lo - d_hi).clamp(min=1e-12)).clamp(0.0, 1.0)
    t_hit = t_lo + w * (t_hi - t_lo)
    points = o + t_hit[:, None] * u
    e = torch.eye(3, device=device) * voxel
    grad = torch.stack([lookup(points + e[i], shape) - lookup(points - e[i], shape) for i in range(3)], -1)
    normal = grad / grad.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    def scatter(values: torch.Tensor, *trailing: int) -> torch.Tensor:  # hit values -> (B, V, S, S, ...)
        full = torch.zeros((B * V * P, *trailing), dtype=values.dtype, device=device)
        return full.index_put_((hits,), values).reshape(B, V, S, S, *trailing)

    return Traced(
        scatter(t_hit), scatter(torch.ones_like(hits, dtype=torch.bool)), scatter(normal, 3), scatter(points, 3)
    )


# --------------------------------------------------------------------------- appearance
def _rand(shape, generator, device, lo=0.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(shape, generator=generator, device=device)


def _unit(v: torch.Tensor) -> torch.Tensor:
    return v / v.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def _material(pts: torch.Tensor, nrm: torch.Tensor, appearance: EngineAppearance, g: torch.Generator):
    """Per-shape material at points / normals (B, N, 3): diffuse colour kd (B, N, 3), specular
    strength ks and shininess (B, 1, 1). See ``shade``."""
    B, device = pts.shape[0], pts.device
    albedo = _rand((B, 1, 3), g, device, 0.2, 0.95) * _rand((B, 1, 1), g, device, 0.5, 1.0)
    gray = _rand((B, 1, 1), g, device) < 0.3
    # Sculpture materials are rarely saturated: the rest keep 0-70 % of their colour.
    saturation = torch.where(gray, torch.zeros_like(gray, dtype=albedo.dtype), _rand((B, 1, 1), g, device, 0, 0.7))
    albedo = albedo.mean(-1, keepdim=True) + saturation * (albedo - albedo.mean(-1, keepdim=True))
    freq = (
        torch.randn(B, 8, 3, generator=g, device=device) * torch.tensor([2.0] * 4 + [10.0] * 4, device=device)[:, None]
    )
    phase = _rand((B, 8), g, device, 0, 2 * math.pi)
    waves = torch.sin(pts @ freq.transpose(1, 2) + phase[:, None])  # (B, N, 8)
    weights = _rand((B, 1, 8), g, device) * _rand((B, 1, 1), g, device, 0, 0.5)
    tint = _rand((B, 1, 3), g, device, 0.7, 1.0)
    texture = 1 + (waves * weights).sum(-1, keepdim=True) / 2.0
    texture = torch.where(_rand((B, 1, 1), g, device) < 0.5, texture * tint + (1 - tint) * 0.5, texture)
    kd = albedo * texture.clamp(0.2, 1.8)
    if appearance.textures is not None:
        use = _rand((B, 1, 1), g, device) < TEXTURE_PROB
        pick = torch.randint(len(appearance.textures), (B,), generator=g, device=device)
        where = pts * _rand((B, 1, 1), g, device, 0.3, 1.2) + _rand((B, 1, 3), g, device)
        mapped = (
            triplanar(appearance.textures[pick].float() / 255.0, where, nrm)
            * _rand((B, 1, 3), g, device, 0.75, 1.15) ** 0.5
        )
        kd = torch.where(use, mapped.clamp(0, 1), kd)
    ks = _rand((B, 1, 1), g, device, 0, 0.5)
    shininess = 2 ** _rand((B, 1, 1), g, device, 2, 7)
    return kd, ks, shininess


def _light(
    nrm: torch.Tensor,
    view_dir: torch.Tensor,
    ks: torch.Tensor,
    shininess: torch.Tensor,
    appearance: EngineAppearance,
    g: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-shape light rig at normals (B, N, 3): diffuse irradiance and specular light (B, N, 3).
    Ambient (or a rotated HDRI's irradiance) plus up to 3 directional lights (the first always on,
    mostly from above), Lambert + Blinn-Phong. See ``shade``."""
    B, device = nrm.shape[0], nrm.device
    ambient = _rand((B, 1, 1), g, device, 0.1, 0.35)
    dirs = _unit(torch.randn(B, 3, 3, generator=g, device=device) + torch.tensor([0.0, 0.8, 0.0], device=device))
    power = _rand((B, 3), g, device, 0.3, 0.9) * torch.cat(
        [torch.ones(B, 1, device=device), (_rand((B, 2), g, device) < 0.5).float()], 1
    )
    colour = _rand((B, 3, 3), g, device, 0.8, 1.0)
    lum = ambient.expand(B, 1, 3) * torch.ones_like(nrm)
    if appearance.sh is not None:
        use = _rand((B, 1, 1), g, device) < ENVIRONMENT_PROB
        pick = torch.randint(len(appearance.sh), (B,), generator=g, device=device)
        turn = _rand((B,), g, device, 0, 2 * math.pi)
        c, s_ = torch.cos(turn)[:, None], torch.sin(turn)[:, None]
        rotated = torch.stack([c * nrm[..., 0] - s_ * nrm[..., 2], nrm[..., 1], s_ * nrm[..., 0] + c * nrm[..., 2]], -1)
        env = sh_irradiance(appearance.sh[pick], rotated) * _rand((B, 1, 1), g, device, 0.3, 0.8)
        lum = torch.where(use, env, lum)
    spec = torch.zeros_like(nrm)
    for j in range(3):
        lj = dirs[:, j][:, None]
        ndl = (nrm * lj).sum(-1, keepdim=True).clamp(min=0)
        hv = _unit(lj + view_dir)
        ndh = (nrm * hv).sum(-1, keepdim=True).clamp(min=0)
        pj = power[:, j, None, None] * colour[:, j, None]
        lum = lum + pj * ndl
        spec = spec + pj * ks * ndh**shininess * (ndl > 0)
    return lum, spec


def shade(
    traced: Traced,
    cameras: OrthoCameras,
    generator: torch.Generator,
    appearance: EngineAppearance | None = None,
    photo_prob: float = 0.5,
    backgrounds: str = "studio",
) -> torch.Tensor:
    """uint8 images (B, V, 3, S, S) of traced views: one material and light rig per shape (shared
    by its V views, fixed in world space), a background per view, camera noise per view.

    Material (``_material``): a random albedo times a solid texture (random 3D sinusoids of the
    world position, coarse and fine, random amplitude), or (``TEXTURE_PROB``, when ``appearance``
    has textures) a triplanar texture map; a random specular strength and shininess. Light
    (``_light``): ambient, or (``ENVIRONMENT_PROB``, when ``appearance`` has SH) a rotated HDRI's
    irradiance, plus 1-3 directional lights (Lambert + Blinn-Phong), random colours near white.
    Backgrounds: the engine's mix (``backgrounds="studio"``,
    :func:`pointkit.backgrounds.studio_backgrounds`) or the photo style's (``"photo"``,
    :func:`pointkit.backgrounds.photo_style_backgrounds`); ``appearance.photos`` with
    probability ``photo_prob``.
    """
    appearance = appearance or EngineAppearance()
    g = generator
    B, V, S = traced.depth.shape[0], traced.depth.shape[1], traced.depth.shape[2]
    device = traced.depth.device
    # Shade object pixels only: per shape, its object pixels first, as many columns as the fullest
    # shape has (the material and light draws are per shape, so this changes no value).
    mask = traced.mask.reshape(B, V * S * S)
    keep = max(1, int(mask.sum(1).max()))
    pixel = mask.to(torch.uint8).argsort(dim=1, descending=True, stable=True)[:, :keep]  # (B, n)
    pts = traced.points.reshape(B, V * S * S, 3).gather(1, pixel[..., None].expand(-1, -1, 3))
    nrm = traced.normal.reshape(B, V * S * S, 3).gather(1, pixel[..., None].expand(-1, -1, 3))
    toward_camera = -cameras.rotation[..., 2, :]  # (B, V, 3)
    view_dir = toward_camera.gather(1, (pixel // (S * S))[..., None].expand(-1, -1, 3))
    nrm = torch.where((nrm * view_dir).sum(-1, keepdim=True) < 0, -nrm, nrm)
    kd, ks, shininess = _material(pts, nrm, appearance, g)
    lum, spec = _light(nrm, view_dir, ks, shininess, appearance, g)
    shaded = (kd * lum + spec).clamp(0, 1)
    obj = torch.zeros(B, V * S * S, 3, device=device).scatter(1, pixel[..., None].expand(-1, -1, 3), shaded)
    obj = obj.reshape(B, V, S, S, 3).permute(0, 1, 4, 2, 3)
    if backgrounds == "photo":
        bg = photo_style_backgrounds(traced.mask.reshape(B * V, S, S), g, appearance.photos, photo_prob)
    elif backgrounds == "studio":
        bg = studio_backgrounds(B * V, S, g, device, appearance.photos, photo_prob)
    else:
        raise PointkitError(f"backgrounds={backgrounds!r}: use one of {', '.join(ENGINE_MIXES)}")
    bg = bg.reshape(B, V, 3, S, S)
    img = torch.where(traced.mask[:, :, None], obj, bg)
    return (camera_effects(img, g).clamp(0, 1) * 255).round().to(torch.uint8)


def camera_effects(img: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """The camera on images (B, V, 3, S, S) in [0, 1]: exposure x U(0.85, 1.15), gamma
    U(0.8, 1.25), gaussian noise of std U(0, 0.02), one draw per view. Hand-written rather than
    kornia.augmentation, whose random parameters come from torch's global RNG, not this stream's
    generator (and which is slower here: ``benchmarks/camera_effects.py``)."""
    B, V, device = img.shape[0], img.shape[1], img.device
    img = img * _rand((B, V, 1, 1, 1), g, device, 0.85, 1.15)
    img = img.clamp(0, 1) ** _rand((B, V, 1, 1, 1), g, device, 0.8, 1.25)
    return img + torch.randn(img.shape, generator=g, device=device) * _rand((B, V, 1, 1, 1), g, device, 0, 0.02)


# --------------------------------------------------------------------------- correspondences
def pair_correspondences(
    depth_s: torch.Tensor,
    mask_s: torch.Tensor,
    cam_s: OrthoCameras,
    depth_t: torch.Tensor,
    mask_t: torch.Tensor,
    cam_t: OrthoCameras,
    k: int,
    generator: torch.Generator,
    depth_tolerance: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Correspondences from source views to target views (batch of B pairs).

    K source object pixels are drawn uniformly without replacement (fewer when the mask is
    smaller; padded), lifted with the source depth, projected into the target and kept when
    visible there (:func:`pointkit.geometry.ortho.visible`, the test of the numpy datasets too,
    with ``depth_tolerance``, default one pixel width in world units, tighter than their two: it
    also drops most source pixels whose traced depth is off, on thin parts and creases).

    Args:
        depth_s, mask_s, depth_t, mask_t: (B, S, S).
        cam_s, cam_t: cameras with world_to_camera (B, 3, 4).

    Returns:
        src (B, K, 2), tgt (B, K, 2) float32 pixel coordinates and valid (B, K) bool; invalid
        rows are zero.
    """
    B, S = depth_s.shape[0], depth_s.shape[-1]
    device = depth_s.device
    keys = torch.rand(B, S * S, generator=generator, device=device)
    keys = torch.where(mask_s.reshape(B, -1), keys, torch.full_like(keys, -1.0))
    k_eff = min(k, S * S)
    top, index = keys.topk(k_eff, dim=1)
    chosen = top >= 0
    uv_s = torch.stack([index % S, torch.div(index, S, rounding_mode="floor")], -1).float() + 0.5
    d_s = depth_s.reshape(B, -1).gather(1, index)
    world = cam_s.unproject(uv_s, d_s)
    tol = 1.0 / cam_t.scale if depth_tolerance is None else depth_tolerance
    seen, uv_t = ortho.visible(world, depth_t, mask_t, cam_t.world_to_camera, cam_t.affine, tol)
    valid = chosen & seen
    zero = torch.zeros_like(uv_s)
    src = torch.where(valid[..., None], uv_s, zero)
    tgt = torch.where(valid[..., None], uv_t, zero)
    if k_eff < k:
        pad = k - k_eff
        src, tgt = F.pad(src, (0, 0, 0, pad)), F.pad(tgt, (0, 0, 0, pad))
        valid = F.pad(valid, (0, pad))
    return src, tgt, valid
