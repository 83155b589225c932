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

RANSAC_HYPOTHESES = 256
"""RANSAC hypotheses per view pair when the correspondence loss fits a pair's affine camera
(``pointkit.camera.fit_affine_camera``, ``pointkit.losses.correspondence_loss``, ``train
--hypotheses``)."""

TAU_PX = 10.0
TAU_INPUT_SIZE = 256
"""The robust threshold tau of the correspondence loss (and RANSAC's inlier threshold in
training): ``TAU_PX`` pixels at a ``TAU_INPUT_SIZE`` px network input; ``train`` scales it with
the input size (``TrainConfig.ransac_threshold``), ``correspondence_loss`` takes it as given."""

SYNTH_CORR_PER_PAIR = 200
"""Correspondences per pair under ``train --synth`` when ``--corr-per-pair`` is 0: pairs made on the
fly correspond at every visible pixel, too many to keep all (``TrainConfig.resolved_corr_per_pair``)."""
