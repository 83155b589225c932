"""The affine camera of LiftNet's loss (paper §3.1): projection, differentiable solve, batched RANSAC."""

from pointkit.camera.affine import AffineFit, affine_degenerate, fit_affine_camera, project_affine, solve_affine

__all__ = ["AffineFit", "affine_degenerate", "fit_affine_camera", "project_affine", "solve_affine"]
