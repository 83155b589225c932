"""Rendering throughput: views/s per backend, correspondences/s, and each backend's overhead over
its bare core measured in the same run.

On one ~100k-face mesh (a procedural sculpture, subdivided) at R x R:
- fast backend: ``render_views(..., renderer="fast")`` per view vs a bare open3d ``cast_rays`` of
  the same rays (the ray casting alone);
- Blender backend: ``BlenderRenderer.render`` per view (scene build, Cycles, ray-cast depth,
  compositing) with Blender in its worker process, vs the same renderer calling the worker's
  handler in this process (the former in-process renderer; needs bpy here), vs a bare
  ``bpy.ops.render.render`` of the same scene and camera (target <= 1.2x); plus the worker's
  start-up (a new worker process until it is ready, median of 3), paid once per renderer;
- correspondences: ``all_pair_correspondences`` of the fast views (all points), as
  correspondences/s and as a fraction of the fast render time of those views.
Median of ``--runs`` timed runs after ``--warmup`` warm-ups; the device is this CPU.

Usage: python benchmarks/render.py [--resolution 256] [--views 5] [--runs 10] [--warmup 3]
                                   [--samples 16] [--no-blender] [--blender-only]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import tempfile
import time

import numpy as np
import trimesh
from timing import median_time  # benchmarks/timing.py


def big_mesh(min_faces: int = 90_000) -> trimesh.Trimesh:
    from pointkit.render import sculpture

    mesh = sculpture(0, 0, kind="blob")
    vertices, faces = mesh.vertices, mesh.faces
    while len(faces) < min_faces:
        vertices, faces = trimesh.remesh.subdivide(vertices, faces)
    return trimesh.Trimesh(vertices, faces, process=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=256)
    ap.add_argument("--views", type=int, default=5)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--samples", type=int, default=16, help="Cycles samples")
    ap.add_argument("--no-blender", action="store_true")
    ap.add_argument("--blender-only", action="store_true", help="skip the fast backend and correspondences")
    args = ap.parse_args()

    import open3d as o3d

    from pointkit.geometry import OrthoCamera
    from pointkit.render import get_renderer, normalise_mesh, preset_views

    mesh = normalise_mesh(big_mesh())
    views = preset_views("sketchfab", args.views)
    cameras = [OrthoCamera.orbit(a, e, args.resolution) for a, e in views]
    fast = get_renderer("fast")
    result = {
        "device": f"CPU ({platform.processor() or platform.machine()})",
        "faces": len(mesh.faces),
        "resolution": args.resolution,
        "views": len(views),
        "runs": args.runs,
        "warmup": args.warmup,
    }

    # Fast backend vs bare ray casting of the same rays (scene built inside both, as per object).
    rays = np.stack(
        [np.concatenate([o, np.broadcast_to(d, o.shape)], -1) for o, d in (c.pixel_rays() for c in cameras)]
    )

    def bare_raycast():
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(
            o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)), o3d.core.Tensor(np.asarray(mesh.faces, np.uint32))
        )
        scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))

    if not args.blender_only:
        _bench_fast(args, mesh, views, cameras, fast, rays, bare_raycast, result)
    if not args.no_blender:
        _bench_blender(args, mesh, views, cameras, result)
    print(json.dumps(result))


def _bench_fast(args, mesh, views, cameras, fast, rays, bare_raycast, result) -> None:
    from pointkit.geometry import all_pair_correspondences

    t_fast = median_time(lambda: fast.render(mesh, cameras, 0, views), args.runs, args.warmup) / len(views)
    t_ray = median_time(bare_raycast, args.runs, args.warmup) / len(views)
    result.update(
        fast_views_per_s=round(1 / t_fast, 2),
        fast_ms_per_view=round(t_fast * 1e3, 2),
        raycast_ms_per_view=round(t_ray * 1e3, 2),
        fast_over_raycast=round(t_fast / t_ray, 2),
    )

    rendered = fast.render(mesh, cameras, 0, views)
    n_corr = int(all_pair_correspondences(rendered)[1][-1])
    t_corr = median_time(lambda: all_pair_correspondences(rendered), args.runs, args.warmup)
    result.update(
        correspondences=n_corr,
        correspondences_per_s=round(n_corr / t_corr),
        correspondences_over_fast_render=round(t_corr / (t_fast * len(views)), 2),
    )


def _bench_blender(args, mesh, views, cameras, result) -> None:
    """Out of process (the worker) vs in process (the worker's handler called here) vs bare Cycles,
    interleaved, so load from other processes on a shared machine hits all alike."""
    from pointkit_blender_renderer import BlenderRenderer
    from pointkit_blender_renderer.process import WorkerProcess
    from pointkit_blender_renderer.renderer import camera_dict

    def render(renderer):
        return lambda: renderer.render(mesh, cameras, 0, views)

    starts = []
    for _ in range(3):
        process = WorkerProcess()
        t0 = time.perf_counter()
        process.start()
        starts.append(time.perf_counter() - t0)
        process.close()
    timed = {"worker": render(BlenderRenderer(samples=args.samples))}
    if importlib.util.find_spec("bpy") is not None:
        import bpy
        from pointkit_blender_renderer import scene as blender_scene

        timed["in_process"] = render(BlenderRenderer.in_process(samples=args.samples))
        out_png = tempfile.mkdtemp(prefix="pointkit-bench-") + "/view.png"

        def bare():  # the scene the in-process render leaves behind, again: camera placement + Cycles + PNG
            bpy.context.scene.render.filepath = out_png
            for camera in cameras:
                blender_scene.place_camera(camera_dict(camera))
                with blender_scene._quiet_stdout():
                    bpy.ops.render.render(write_still=True)

        timed["bare"] = bare
    for _ in range(args.warmup):
        for fn in timed.values():
            fn()
    runs = {name: [] for name in timed}
    for _ in range(args.runs):
        for name, fn in timed.items():
            runs[name].append(median_time(fn, 1, 0))
    per_view = {name: statistics.median(t) / len(views) for name, t in runs.items()}
    t_worker = per_view["worker"]
    result.update(
        blender_views_per_s=round(1 / t_worker, 3),
        blender_s_per_view=round(t_worker, 3),
        blender_worker_start_s=round(statistics.median(starts), 2),
        samples=args.samples,
    )
    if "in_process" in per_view:
        t_in, t_bare = per_view["in_process"], per_view["bare"]
        result.update(
            blender_in_process_s_per_view=round(t_in, 3),
            blender_worker_over_in_process=round(t_worker / t_in, 3),
            bare_cycles_s_per_view=round(t_bare, 3),
            blender_over_bare_cycles=round(t_worker / t_bare, 3),
            blender_in_process_over_bare_cycles=round(t_in / t_bare, 3),
        )


if __name__ == "__main__":
    main()
