"""Rendering throughput: views/s per backend, correspondences/s, and each backend's overhead over
its bare core measured in the same run.

On one ~100k-face mesh (a procedural sculpture, subdivided) at R x R:
- fast backend: ``render_views(..., renderer="fast")`` per view vs a bare open3d ``cast_rays`` of
  the same rays (the ray casting alone);
- Blender backend: ``BlenderRenderer.render`` per view (scene build, Cycles, ray-cast depth,
  compositing) vs a bare ``bpy.ops.render.render`` of the same scene and camera (target <= 1.2x);
- correspondences: ``all_pair_correspondences`` of the fast views (all points), as
  correspondences/s and as a fraction of the fast render time of those views.
Median of ``--runs`` timed runs after ``--warmup`` warm-ups; the device is this CPU.

Usage: python benchmarks/render.py [--resolution 256] [--views 5] [--runs 10] [--warmup 3]
                                   [--samples 16] [--no-blender]
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile

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
    args = ap.parse_args()

    import open3d as o3d

    from pointkit.geometry import OrthoCamera, all_pair_correspondences
    from pointkit.render import get_renderer, normalise_mesh, preset_views

    mesh = normalise_mesh(big_mesh())
    views = preset_views("sketchfab", args.views)
    cameras = [OrthoCamera.orbit(a, e, args.resolution) for a, e in views]
    fast = get_renderer("fast")
    result = {"device": f"CPU ({platform.processor() or platform.machine()})", "faces": len(mesh.faces),
              "resolution": args.resolution, "views": len(views), "runs": args.runs, "warmup": args.warmup}

    # Fast backend vs bare ray casting of the same rays (scene built inside both, as per object).
    rays = np.stack([np.concatenate([o, np.broadcast_to(d, o.shape)], -1) for o, d in (c.pixel_rays() for c in cameras)])

    def bare_raycast():
        scene = o3d.t.geometry.RaycastingScene()
        scene.add_triangles(o3d.core.Tensor(np.asarray(mesh.vertices, np.float32)),
                            o3d.core.Tensor(np.asarray(mesh.faces, np.uint32)))
        scene.cast_rays(o3d.core.Tensor(rays.astype(np.float32)))

    t_fast = median_time(lambda: fast.render(mesh, cameras, 0, views), args.runs, args.warmup) / len(views)
    t_ray = median_time(bare_raycast, args.runs, args.warmup) / len(views)
    result.update(fast_views_per_s=round(1 / t_fast, 2), fast_ms_per_view=round(t_fast * 1e3, 2),
                  raycast_ms_per_view=round(t_ray * 1e3, 2), fast_over_raycast=round(t_fast / t_ray, 2))

    rendered = fast.render(mesh, cameras, 0, views)
    n_corr = int(all_pair_correspondences(rendered)[1][-1])
    t_corr = median_time(lambda: all_pair_correspondences(rendered), args.runs, args.warmup)
    result.update(correspondences=n_corr, correspondences_per_s=round(n_corr / t_corr),
                  correspondences_over_fast_render=round(t_corr / (t_fast * len(views)), 2))

    if not args.no_blender:
        import bpy

        from pointkit_blender_renderer import scene as blender_scene

        blender = get_renderer("blender", samples=args.samples)

        def full():
            blender.render(mesh, cameras, 0, views)

        out_png = tempfile.mkdtemp(prefix="pointkit-bench-") + "/view.png"

        def bare():  # the scene full() leaves behind, rendered again: camera placement + Cycles + PNG
            bpy.context.scene.render.filepath = out_png
            for camera in cameras:
                blender_scene.place_camera(camera)
                with blender_scene._quiet_stdout():
                    bpy.ops.render.render(write_still=True)

        # Interleaved, so load from other processes on a shared machine hits both alike.
        for _ in range(args.warmup):
            full(), bare()
        pairs = []
        for _ in range(args.runs):
            pairs.append((median_time(full, 1, 0), median_time(bare, 1, 0)))
        t_blender = statistics.median(p[0] for p in pairs) / len(views)
        t_bare = statistics.median(p[1] for p in pairs) / len(views)
        result.update(blender_views_per_s=round(1 / t_blender, 3), blender_s_per_view=round(t_blender, 3),
                      bare_cycles_s_per_view=round(t_bare, 3), blender_over_bare_cycles=round(t_blender / t_bare, 3),
                      samples=args.samples)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
