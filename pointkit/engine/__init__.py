"""Training samples made in torch (CUDA when present, else CPU), with no dataset on disk.

Shapes are signed-distance grids (``mesh_to_sdf`` on a CPU with open3d; banks saved with
``save_bank`` load with numpy + torch only), rendered by sphere tracing through
``grid_sample``, shaded in torch, with ground-truth correspondences between view pairs.
``SynthStream.next_batch`` yields batches in the ``pointkit.training.data.collate_pairs`` format.
See docs/engine.md.
"""

from pointkit.engine.render import (
    OrthoCameras,
    Traced,
    orbit_cameras,
    pair_correspondences,
    sample_sdf,
    shade,
    trace,
)
from pointkit.engine.appearance import EngineAppearance, appearance_from_folder
from pointkit.engine.sdf import (
    BOUND,
    TRUNCATION,
    ShapeBank,
    concat_banks,
    lattice,
    load_appearance,
    load_bank,
    mesh_to_sdf,
    quantise,
    save_bank,
)
from pointkit.engine.stream import SynthStream

__all__ = [
    "BOUND", "TRUNCATION", "OrthoCameras", "EngineAppearance", "ShapeBank", "SynthStream", "Traced",
    "appearance_from_folder", "concat_banks", "lattice", "load_appearance", "load_bank",
    "mesh_to_sdf", "orbit_cameras", "pair_correspondences", "quantise", "sample_sdf", "save_bank", "shade",
    "trace",
]  # fmt: skip
