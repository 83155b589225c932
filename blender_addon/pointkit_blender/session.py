"""One "Lift image to mesh" run: a background :class:`~.backend.LiftJob` plus the Blender objects
built from its results as they arrive, side by side along +X.

The operator calls :meth:`LiftSession.step` from its modal timer (the UI stays live; Esc calls
:meth:`LiftSession.cancel`); headless Blender and the redo panel call :meth:`LiftSession.run`.
Each image's mesh and camera are built all or nothing (``objects.all_or_nothing``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import backend, objects


@dataclass(frozen=True)
class MeshOptions:
    """The redo-panel options applied to every mesh of the run."""

    depth_scale: float = 1.0
    smoothing: int = 0
    decimation: float = 1.0
    add_camera: bool = True


class LiftSession:
    """Lift ``images`` (paths) and build each one's textured mesh (and camera) in ``context``'s scene.

    Raises (constructor):
        backend.BackendError: a missing image or no way to run pointkit.
    """

    def __init__(
        self,
        images: list[str | Path],
        options: MeshOptions,
        mode: str = "AUTO",
        executable: str = "",
        checkpoint: str = "",
        timeout: float = 600.0,
    ):
        self.options = options
        self.job = backend.LiftJob(images, mode, executable, checkpoint, timeout)
        self.built: list = []  # mesh objects, in the order their images finished
        self.failed: dict[str, str] = {}  # image -> one-line error
        self.done, self.total = 0, len(self.job.images)
        self._right = 0.0  # right edge of the last mesh built (Blender x)

    def step(self, context) -> bool:
        """Build the objects of the images finished since the last call; True when the run is over."""
        for event in self.job.poll():
            self.done = event["done"]
            name = Path(event["image"]).stem
            if "error" in event:  # pointkit's own line; its stderr goes to the console at the end
                self.failed[event["image"]] = event["error"]
                continue
            try:
                self._build(context, name, objects.read_npz(event["npz"]))
            except Exception as exc:  # one bad image must not stop the others: report it at the end
                self.failed[event["image"]] = f"{name}: {type(exc).__name__}: {exc}"
                print(f"pointkit: {self.failed[event['image']]}")  # the system console keeps the details
        return self.job.finished

    def _build(self, context, name: str, data: dict) -> None:
        opt, half = self.options, objects.width(data) / 2
        x = self._right + objects.GAP + half if self.built else 0.0  # the first at the origin, then to its right
        obj = objects.lifted_objects(
            context,
            name,
            data,
            opt.depth_scale,
            opt.smoothing,
            opt.decimation,
            opt.add_camera,
            x=x,
            scene_camera=not self.built,
        )
        self._right = x + half
        self.built.append(obj)

    def run(self, context, interval: float = 0.05) -> None:
        """Step until the run is over (headless Blender, scripts, and the redo panel's rebuild)."""
        while not self.step(context):
            time.sleep(interval)

    def cancel(self, reason: str = "cancelled") -> None:
        """Stop the process; meshes already built stay."""
        self.job.cancel(reason)

    @property
    def progress_text(self) -> str:
        return f"pointkit: lifting {self.done}/{self.total} images (Esc cancels)"

    def summary(self) -> tuple[str, str]:
        """``(report level, one line)`` for Blender's report area."""
        made = f"{len(self.built)} of {self.total} images lifted"
        if self.job.error == "cancelled":
            return "WARNING", f"pointkit: cancelled; {made}"
        errors = list(self.failed.values()) or ([self.job.error] if self.job.error else [])
        if errors:
            if self.total == 1:
                return "ERROR", errors[0]
            return "ERROR", f"{made}; {self.total - len(self.built)} failed, the first: {errors[0]}"
        vertices = sum(len(obj.data.vertices) for obj in self.built)
        return "INFO", f"{made}: {vertices} vertices"
