"""The renderer protocol, rendered views and ``render_views``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np
import trimesh

from pointkit import registry
from pointkit.errors import PointkitError
from pointkit.geometry.camera import DEFAULT_MARGIN, OrthoCamera
from pointkit.render.mesh import load_mesh, normalise_mesh

DEFAULT_RENDERER = "fast"


@dataclass
class RenderedView:
    """One rendered view.

    Attributes:
        image: (H, W, 3) uint8 RGB.
        depth: (H, W) float32 camera z (object depth in [1, 3] for a normalised mesh); 0 off the object.
        mask: (H, W) bool object pixels (exactly where ``depth`` > 0).
        camera: the orthographic camera.
        azimuth, elevation: the view in degrees.
        coverage: (H, W) float32 in [0, 1], the renderer's own anti-aliased object coverage (its
            alpha), or None when it has none. Depth and mask are always the exact ray-cast ones.
        background: the background kind of the view ("photo:<file>", "white_cloth", ...; a
            "+floor" suffix when a floor band was added), or None when the renderer does not say.
    """

    image: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    camera: OrthoCamera
    azimuth: float
    elevation: float
    coverage: np.ndarray | None = None
    background: str | None = None

    @property
    def world_to_camera(self) -> np.ndarray:
        """(3, 4) float64 world -> camera [R | t]."""
        return self.camera.world_to_camera

    @property
    def affine(self) -> np.ndarray:
        """(2, 4) float64 world -> pixel."""
        return self.camera.affine


class Renderer(Protocol):
    """A rendering backend, registered under the entry-point group ``pointkit.renderers``.

    The registered object is a class (or factory) called with keyword options; ``render`` draws a
    normalised mesh from each camera. Appearance (materials, lights, background) is random but
    fully determined by ``seed``; depth and mask must be exact (``pointkit.render.raycast``).
    """

    name: str

    def render(
        self, mesh: trimesh.Trimesh, cameras: Sequence[OrthoCamera], seed: int, views: Sequence[tuple[float, float]]
    ) -> list[RenderedView]:
        """Render ``mesh`` from ``cameras`` (one per (azimuth, elevation) in ``views``)."""
        ...


def get_renderer(renderer: str | Renderer, **options: Any) -> Renderer:
    """A renderer instance: ``renderer`` is a registered name (``pointkit plugins``) or an instance."""
    if not isinstance(renderer, str):
        return renderer

    try:
        factory = registry.load("pointkit.renderers", renderer)
    except registry.PluginError as exc:
        raise PointkitError(str(exc)) from None
    try:
        return factory(**options)
    except (TypeError, ValueError) as exc:  # an unknown option name or a bad value
        raise PointkitError(f"renderer {renderer!r}: {exc}; see docs/rendering.md for its options") from None


def render_views(
    mesh: str | Path | trimesh.Trimesh,
    views: Sequence[tuple[float, float]],
    resolution: int,
    renderer: str | Renderer = DEFAULT_RENDERER,
    seed: int = 0,
    margin: float = DEFAULT_MARGIN,
    **options: Any,
) -> list[RenderedView]:
    """Render orthographic views of a mesh.

    Args:
        mesh: a mesh file or a trimesh; it is normalised (centred, scaled into the unit sphere).
        views: (azimuth, elevation) pairs in degrees (see ``pointkit.geometry.look_at_orbit``).
        resolution: R for R x R images.
        renderer: a registered renderer name ("fast", "blender", ...) or a Renderer instance.
        seed: appearance seed (same seed, same images).
        margin: the unit sphere's image has radius (R / 2) / (1 + margin) pixels.
        **options: passed to the renderer's constructor (e.g. ``samples`` for Blender).

    Returns:
        One RenderedView per view: ``.image`` (R, R, 3) uint8, ``.depth`` (R, R) float32 (0 off
        the object), ``.mask`` (R, R) bool, ``.world_to_camera`` (3, 4), ``.affine`` (2, 4).

    >>> import trimesh
    >>> v = render_views(trimesh.creation.icosphere(), [(0, 0), (60, 10)], 32)
    >>> v[0].image.shape, v[0].depth.dtype, float(v[0].depth.max()) <= 3.0
    ((32, 32, 3), dtype('float32'), True)
    """
    mesh = load_mesh(mesh) if isinstance(mesh, (str, Path)) else normalise_mesh(mesh)
    views = [(float(a), float(e)) for a, e in views]
    if not views:
        raise PointkitError("no views to render: give at least one (azimuth, elevation)")
    cameras = [OrthoCamera.orbit(a, e, int(resolution), margin) for a, e in views]
    return get_renderer(renderer, **options).render(mesh, cameras, seed, views)
