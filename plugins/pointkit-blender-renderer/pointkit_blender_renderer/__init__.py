"""pointkit's Blender renderer: photoreal orthographic views with Cycles on the CPU, headless.

Registered as the ``blender`` plugin of the entry-point group ``pointkit.renderers``.

Blender runs in a separate, long-lived worker process (``worker.py``; one per ``BlenderRenderer``,
serving every object it renders), as BlenderProc does: pointkit sends a scene description (mesh
arrays, cameras, options, the seed's random-generator state) and gets PNG images back. bpy's pins
(bpy 5.0: Python 3.11, numpy < 2) therefore never apply to pointkit's process, and a Blender crash
fails one object with a one-line PointkitError instead of taking pointkit down; the next object
starts a new worker. Which Blender runs: ``$POINTKIT_BLENDER`` (a Python with the bpy wheel, or a
``blender`` executable), else this interpreter if it has bpy (``process.py``).

RGB comes from Cycles with a random material (bronze, marble, stone or painted plaster), random
sun, fill light and world light, all drawn from the seed, rendered over a transparent film; the
background (a random vertical gradient) is composited in numpy with Cycles' alpha. Depth and
mask are exact, from ray casting the same mesh with the same cameras (pointkit.render.raycast):
with an orthographic camera this is simpler and more exact than EXR depth passes.

``style="photo"`` makes images that look like photographs: an HDRI world, image-texture or
procedural materials, an optional key light, a background photo and mild camera effects, from the
appearance assets folder (``assets``, ``$POINTKIT_APPEARANCE`` or ``<repo>/../shared/data/appearance``).

Importing this package imports neither pointkit nor bpy (the worker imports it without pointkit
installed); ``BlenderRenderer`` and the rest load from ``renderer.py`` on first use.
"""

from __future__ import annotations

_FROM_RENDERER = ("BlenderRenderer", "resolve_assets", "MATERIALS", "PHOTO_MATERIALS", "STYLES", "ENV_VAR")


def __getattr__(name: str):
    if name in _FROM_RENDERER:
        from pointkit_blender_renderer import renderer

        return getattr(renderer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
