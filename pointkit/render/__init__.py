"""Rendering: mesh loading, procedural sculptures, view presets, renderers and the dataset job.

``render_views(mesh, views, resolution, renderer="fast")`` renders orthographic views with exact
depth; ``build_dataset(out, procedural=N)`` (the ``pointkit render-synthetic`` job) writes a
dataset. Renderers are plugins of the entry-point group ``pointkit.renderers``: ``fast``
(built in, open3d ray casting) and ``blender`` (plugins/pointkit-blender-renderer, Cycles).
"""

from pointkit.render.dataset import DEFAULT_MAX_CORR, build_dataset, object_seed, split_of  # noqa: F401
from pointkit.render.mesh import MESH_SUFFIXES, load_mesh, normalise_mesh  # noqa: F401
from pointkit.render.presets import PRESETS, preset_views  # noqa: F401
from pointkit.render.procedural import KINDS, sculpture  # noqa: F401
from pointkit.render.views import DEFAULT_RENDERER, RenderedView, Renderer, get_renderer, render_views  # noqa: F401
