r"""``pointkit lift``: one image -> resolved depth, object mask and a textured mesh.

Pipeline (docs/lift.md): load the image upright (:mod:`pointkit.imaging`) -> pad to a square
with its own border pixels, resize to the network's input -> LiftNet -> depth (and mask logits)
back at input resolution -> object mask -> resolve the depth's ambiguity by three documented
rules -> grid mesh in the documented frame (:mod:`pointkit.meshing`) -> files.

One job per module:

* :mod:`~pointkit.lifting.model`: which model runs (checkpoint, torch or its ONNX export, device);
* :mod:`~pointkit.lifting.predict`: the network forward at input resolution (depth, mask logits);
* :mod:`~pointkit.lifting.rules`: the sign / tilt / scale rules and ``--scale-from``'s metres;
* :mod:`~pointkit.lifting.pipeline`: :func:`~pointkit.lifting.pipeline.lift` and
  :func:`~pointkit.lifting.pipeline.lift_batch` (``pointkit.lift`` is the former);
* :mod:`~pointkit.lifting.outputs`: the files of one image (maps and meshes, atomically);
* :mod:`~pointkit.lifting.config`: :class:`~pointkit.lifting.config.LiftConfig`, the job's settings;
* :mod:`~pointkit.lifting.folder`: :func:`~pointkit.lifting.folder.lift_files` (a LiftConfig), the
  ``pointkit lift`` job over files and folders.
"""
