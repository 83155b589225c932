"""LiftNet inference on the CPU: onnxruntime (the `pointkit export onnx` file) vs torch, same run.

Times one forward pass of the same checkpoint in both (median of --runs after --warmup, batch
--batch, the checkpoint's input size, --threads threads each) and reports the ratio
torch / onnxruntime (above 1: onnxruntime is faster).

    .venv/bin/python benchmarks/onnx_inference.py [--checkpoint default] [--batch 1] [--threads 1] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
from timing import median_time  # benchmarks/timing.py

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", default="default", help="checkpoint path, run folder or model name")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()

    import onnxruntime as ort

    from pointkit.models import load_checkpoint
    from pointkit.onnx_export import export_onnx

    torch.set_num_threads(args.threads)
    model, _ = load_checkpoint(args.checkpoint)
    S, C = model.config.input_size, model.config.in_channels
    x = torch.rand(args.batch, C, S, S) * 2 - 1
    with tempfile.TemporaryDirectory() as tmp:
        summary = export_onnx(args.checkpoint, Path(tmp) / "m.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = args.threads
        session = ort.InferenceSession(summary["out"], options, providers=["CPUExecutionProvider"])
        feed = {"image": x.numpy()}

        def torch_forward():
            with torch.no_grad():
                model(x)

        t_torch = median_time(torch_forward, args.runs, args.warmup)
        t_ort = median_time(lambda: session.run(None, feed), args.runs, args.warmup)
    print(
        json.dumps(
            {
                "checkpoint": args.checkpoint,
                "input_size": S,
                "batch": args.batch,
                "threads": args.threads,
                "torch_ms": round(1e3 * t_torch, 2),
                "onnxruntime_ms": round(1e3 * t_ort, 2),
                "torch_over_onnxruntime": round(t_torch / t_ort, 3),
                "max_abs_diff": summary["max_abs_diff"],
            }
        )
    )


if __name__ == "__main__":
    main()
