"""``pointkit lift``: speed (call -> mesh written vs the bare network forward) and the depth rules.

speed: a 256 x 256 rendered sculpture; median of >= 10 timed runs after 3 warm-ups of (a) the
bare LiftNet forward at its input size and (b) ``pointkit.lift`` + writing all outputs (GLB mesh)
to a temporary folder; prints both and the ratio (target <= 2x; <= 1 s on 2 CPU cores).

rules: the sign / tilt / scale rules of ``pointkit.lift.resolve_depth`` measured on the test split
of procedural sculptures (seed 0, sketchfab views, exact ground-truth depth). Each ground-truth
depth g (in pixels) is corrupted by the loss's ambiguity, r = a g + b u + c v + e with a random
sign, |a| in [0.5, 2] and tilts b, c ~ N(0, 0.5) depth px per px (an honest test of the rule
itself, independent of any model), then resolved. Reports RMSE (unit-sphere units) after the
"ls" (scale + shift) alignment of raw vs resolved depth, the sign accuracy, BULGE (the measured
median depth extent / equivalent radius) and the scale error of the resolved depth without any
alignment but a shift. With --checkpoint (or the shipped default model) it does the same on the
model's own predictions.

batch: ``--images`` (16) 256 x 256 renders through ``lift_batch`` one image per call vs
``--batch`` (8) per call (what ``lift --batch-size`` does); images per second of both and their
ratio (the network forward is batched, the rules and meshing stay per image).

process: ``pointkit -q lift`` as a user runs it, a whole process on a 256 x 256 image (imports,
model load, lift, files written), median of ``--repeats`` runs, beside ``python -c pass`` (the
interpreter's own start) and ``--backend torch`` in the same run; target <= 1.5 s on the CPU.

Usage: python benchmarks/lift.py speed [--checkpoint PATH] [--device cpu]
       python benchmarks/lift.py process [--repeats 5]
       python benchmarks/lift.py batch [--batch 8] [--images 16] [--device cuda]
       python benchmarks/lift.py rules [--objects 12] [--resolution 128] [--checkpoint PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
import torch

import pointkit
from pointkit.lifting.model import DEFAULT_CHECKPOINT, load_model
from pointkit.lifting.outputs import write_outputs
from pointkit.lifting.predict import predict
from pointkit.lifting.rules import resolve_depth
from pointkit.metrics import depth_metrics
from pointkit.render import preset_views, render_views, sculpture, split_of
from pointkit.render.procedural import sculpture_id
from timing import median_time  # benchmarks/timing.py


def speed(args) -> dict:
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or (DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None)
    tmp = Path(tempfile.mkdtemp(prefix="pointkit-bench-lift-"))
    label = str(checkpoint)
    if checkpoint is None:  # no shipped model yet: a random-init net of the default model's shape
        from pointkit.models import LiftNet, LiftNetConfig

        torch.manual_seed(0)
        checkpoint = LiftNet(LiftNetConfig(input_size=128, ngf=32, mask_head=True)).save(tmp / "random.safetensors")
        label = "random-init LiftNet(input 128, ngf 32, mask head): the default model is missing"
    image = render_views(sculpture(0, 3), [(30.0, 0.0)], 256)[0].image
    model, _ = load_model(checkpoint, args.device)
    S = model.config.input_size
    # The network input lift itself builds (resized image in [-1, 1]); zeros would time a different case.
    small = cv2.resize(image, (S, S), interpolation=cv2.INTER_AREA)
    x = (torch.from_numpy(small).permute(2, 0, 1)[None].float() / 127.5 - 1).to(args.device)

    def forward():
        with torch.inference_mode():
            model(x)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    def full():
        write_outputs(pointkit.lift(image, checkpoint, device=args.device), tmp, "bench", "glb")

    t_fwd, t_full = median_time(forward, args.repeats), median_time(full, args.repeats)
    return {
        "bench": "lift-speed",
        "device": args.device,
        "threads": torch.get_num_threads(),
        "model": label,
        "input_size": S,
        "image": "256x256",
        "forward_ms": round(1e3 * t_fwd, 2),
        "lift_to_mesh_written_ms": round(1e3 * t_full, 2),
        "ratio": round(t_full / t_fwd, 2),
    }


def batch(args) -> dict:
    from pointkit.lifting.pipeline import lift_batch

    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or DEFAULT_CHECKPOINT
    images = [v.image for k in range(args.images) for v in render_views(sculpture(0, k), [(30.0, 0.0)], 256)]
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else None

    def run(size):
        for start in range(0, len(images), size):
            for result in lift_batch(images[start : start + size], checkpoint, device=args.device, mesh_resolution=256):
                if isinstance(result, Exception):
                    raise result

    t_one = median_time(lambda: run(1), args.repeats, warmup=1, sync=sync)
    t_batch = median_time(lambda: run(args.batch), args.repeats, warmup=1, sync=sync)
    return {
        "bench": "lift-batch",
        "device": args.device,
        "threads": torch.get_num_threads(),
        "model": str(checkpoint),
        "images": len(images),
        "batch": args.batch,
        "one_at_a_time_img_s": round(len(images) / t_one, 1),
        "batched_img_s": round(len(images) / t_batch, 1),
        "speedup": round(t_one / t_batch, 2),
    }


def process(args) -> dict:
    import statistics
    import subprocess
    import time

    tmp = Path(tempfile.mkdtemp(prefix="pointkit-bench-process-"))
    cv2.imwrite(str(tmp / "statue.png"), render_views(sculpture(0, 3), [(30.0, 0.0)], 256)[0].image[..., ::-1])
    exe = Path(sys.executable).with_name("pointkit")
    lift = [str(exe), "-q", "lift", str(tmp / "statue.png"), "--out", str(tmp / "out")]
    commands = {
        "python_pass": [sys.executable, "-c", "pass"],
        "lift": lift,
        "lift_torch": lift + ["--backend", "torch"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            t0 = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in times.items()}
    return {
        "bench": "lift-process",
        "image": "256x256",
        "repeats": args.repeats,
        "lift_s": round(med["lift"], 3),
        "lift_backend_torch_s": round(med["lift_torch"], 3),
        "python_pass_s": round(med["python_pass"], 3),
        "ratio_to_python": round(med["lift"] / med["python_pass"], 1),
        "torch_over_auto": round(med["lift_torch"] / med["lift"], 2),
        "target_s": 1.5,
    }


def test_views(objects: int, resolution: int, seed: int = 0):
    """Rendered views of the first ``objects`` test-split sculptures (seed ``seed``)."""
    index, out = 0, []
    while len(out) < objects * 5:
        if split_of(sculpture_id(index), seed) == "test":
            out += render_views(sculpture(seed, index), preset_views("sketchfab"), resolution, seed=index)
        index += 1
    return out


def rmse(pred, gt, mask, mode):
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))[None]  # noqa: E731
    return depth_metrics(t(pred), t(gt), t(mask), mode)["rmse"]


def rules(args) -> dict:
    views = test_views(args.objects, args.resolution)
    rng = np.random.default_rng(0)
    R = args.resolution
    v, u = np.mgrid[0:R, 0:R] + 0.5
    rows = {
        k: []
        for k in (
            "raw_ls",
            "boundary_ls",
            "object_ls",
            "gt_resolved_ls",
            "object_shift_only",
            "sign_ok",
            "ratio",
            "scale_err",
        )
    }
    for view in views:
        m, s = view.mask, view.camera.scale
        g_px = view.depth * s
        extent = np.subtract(*np.percentile(g_px[m], [98, 2]))
        rows["ratio"].append(extent / np.sqrt(m.sum() / np.pi))
        a = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.0)
        raw = a * g_px + rng.normal(0, 0.5) * u + rng.normal(0, 0.5) * v + rng.normal(0, 50)
        rows["raw_ls"].append(rmse(raw, view.depth, m, "ls"))
        for plane in ("boundary", "object"):
            d, rule = resolve_depth(raw, m, plane=plane)
            rows[f"{plane}_ls"].append(rmse(d, view.depth, m, "ls"))
            if plane == "object":
                world = d * R / s  # longer side = R px = R / s world units
                rows["sign_ok"].append(float(np.corrcoef(d[m], view.depth[m])[0, 1] > 0))
                shift = np.median(view.depth[m] - world[m])
                rows["object_shift_only"].append(float(np.sqrt(np.mean((world[m] + shift - view.depth[m]) ** 2))))
                rows["scale_err"].append(abs(np.log(np.subtract(*np.percentile(world[m], [98, 2])) / (extent / s))))
        rows["gt_resolved_ls"].append(rmse(resolve_depth(g_px, m)[0], view.depth, m, "ls"))
    med = {k: float(np.median(x)) for k, x in rows.items()}
    mean = {k: float(np.mean(x)) for k, x in rows.items()}
    out = {
        "bench": "lift-rules",
        "views": len(views),
        "resolution": R,
        "corrupted_gt": {
            "rmse_ls_raw": mean["raw_ls"],
            "rmse_ls_resolved_boundary_plane": mean["boundary_ls"],
            "rmse_ls_resolved_object_plane": mean["object_ls"],
            "rmse_ls_gt_itself_resolved": mean["gt_resolved_ls"],
            "rmse_shift_only_resolved": mean["object_shift_only"],
            "sign_accuracy": mean["sign_ok"],
            "bulge_median": med["ratio"],
            "scale_abs_log_error_median": med["scale_err"],
        },
    }
    checkpoint = args.checkpoint or (DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else None)
    if checkpoint is not None:
        model, _ = load_model(checkpoint, args.device)
        raw_ls, res_ls, aff = [], [], []
        for view in views:
            raw, _ = predict(model, view.image, args.device)
            raw_ls.append(rmse(raw, view.depth, view.mask, "ls"))
            aff.append(rmse(raw, view.depth, view.mask, "affine"))
            res_ls.append(rmse(resolve_depth(raw, view.mask)[0], view.depth, view.mask, "ls"))
        out["model"] = {
            "checkpoint": str(checkpoint),
            "rmse_ls_raw": float(np.mean(raw_ls)),
            "rmse_ls_resolved": float(np.mean(res_ls)),
            "rmse_affine_raw": float(np.mean(aff)),
        }
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["speed", "rules", "batch", "process"])
    parser.add_argument("--checkpoint")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--objects", type=int, default=12)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args(argv)
    print(json.dumps({"speed": speed, "rules": rules, "batch": batch, "process": process}[args.what](args)))


if __name__ == "__main__":
    sys.exit(main())
