"""A sculptor's shape grammar: procedural families that look like what sculptors make.

Each family is a function ``(rng: np.random.Generator) -> trimesh.Trimesh``. Shapes are built as
(approximate) signed-distance fields in numpy - negative inside - from ellipsoids, tapered
capsules, boxes, cylinders and tori, combined with smooth unions (polynomial smooth-min), smooth
subtractions (eye sockets, grooves, holes) and intersections, plus low-amplitude surface noise and
ridged "chisel" marks. The field is evaluated on a grid fitted to the shape's bounding box (about
72 samples along its longest side) and meshed with ``skimage.measure.marching_cubes``; only the
main connected component(s) are kept, so there are no floating crumbs.

Families (world frame: +Y up; faces, reliefs and fronts look toward +Z, i.e. toward the camera
at azimuth 0, which sits on +Z and looks along -Z, see ``pointkit.geometry.look_at_orbit``):

- ``head``: cranium and face masses, brow ridge, eye sockets with eyeballs, nose, lips, chin,
  cheekbones, ears; sometimes a hair mass (with strands), a cap or hat, or a tall headdress.
- ``bust``: a head plus neck, shoulders and chest cut flat below; sometimes a box or round plinth.
- ``figure``: a posed stick skeleton (standing with contrapposto, seated on a block, or reclining
  on a base) with tapered capsule limbs, ellipsoid torso masses and a head; sometimes drapery (a
  flared skirt / cloak volume with sinusoidal folds), sometimes a base.
- ``animal``: a quadruped (body, 4 two-segment legs, neck, head with snout and ears, tail), a bird
  (body, head, beak, folded or spread wings, tail fan, perch) or a fish (body, tail fin, dorsal
  and side fins, on a stand or free), with random proportions.
- ``relief``: a thin panel, medallion, coin or frieze in the XY plane facing +Z, with raised
  portraits, figures or ornament (rosettes, scrolls) made of rounded bumps, and a rim.
- ``ornament``: architecture - columns (base mouldings, fluted shaft with entasis, Doric or
  Ionic capital with volutes as tori), balusters, urns with handles, finials.

The raw meshes are not normalised; ``pointkit.render.procedural.sculpture`` normalises them.
Modules: ``sdf`` (primitives, smooth booleans, noise, meshing) and one per family group:
``heads`` (head, bust), ``figures``, ``animals``, ``reliefs``, ``ornaments``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import trimesh

from pointkit.render.sculptor.heads import head, bust
from pointkit.render.sculptor.figures import figure
from pointkit.render.sculptor.animals import animal
from pointkit.render.sculptor.reliefs import relief
from pointkit.render.sculptor.ornaments import ornament

FAMILIES: dict[str, Callable[[np.random.Generator], trimesh.Trimesh]] = {
    "head": head,
    "bust": bust,
    "figure": figure,
    "animal": animal,
    "relief": relief,
    "ornament": ornament,
}
"""The sculptor's families, by name."""
