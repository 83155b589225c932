"""Defaults that the library and the job settings share, in a module that imports nothing, so a
command's ``--help`` shows them without loading OpenCV or trimesh."""

MAX_PIXELS = 50_000_000
"""Largest image ``load_image`` accepts by default (about 7000 x 7000); the network sees 128-512 px
anyway, so larger inputs only cost memory. ``pointkit lift --max-pixels`` changes it."""

MESH_MAX_SIDE = 512
"""Vertex grid samples on the longer image side of a lifted mesh (``lift --mesh-resolution``)."""

MASK_SOURCES = ("auto", "alpha", "network", "grabcut", "none")
"""The mask sources ``lift --mask`` takes by name (``pointkit.masks.object_mask``); any other
value must be a mask image file."""
