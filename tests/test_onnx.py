"""pointkit export onnx: onnxruntime on the CPU matches torch within pointkit.onnx_export.TOLERANCE,
with a dynamic batch, for RGB and silhouette-prior models; bad input fails in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from pointkit.models import LiftNet, LiftNetConfig
from pointkit_cli.main import cli

ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'pointkit[onnx]')")
onnx = pytest.importorskip("onnx", reason="onnx is not installed (pip install 'pointkit[onnx]')")
pytest.importorskip("onnxscript", reason="onnxscript is not installed (pip install 'pointkit[onnx]')")


@pytest.mark.slow
@pytest.mark.parametrize("prior,mask_head", [("none", True), ("silhouette", False)])
def test_onnx_matches_torch_with_a_dynamic_batch(tmp_path, prior, mask_head):
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(input_size=32, ngf=4, prior=prior, mask_head=mask_head)).eval()
    model.save(tmp_path / "m.safetensors", {"step": 7})
    run = CliRunner().invoke(
        cli, ["-q", "export", "onnx", str(tmp_path / "m.safetensors"), "--out", str(tmp_path / "m.onnx")]
    )
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    channels = 4 if prior == "silhouette" else 3
    assert summary["channels"] == channels and summary["outputs"] == (2 if mask_head else 1)
    assert summary["max_abs_diff"] < 1e-3
    # An independent check: a fresh session, a batch size the export never saw.
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(5, channels, 32, 32) * 2 - 1
    with torch.no_grad():
        ref = model(x).numpy()
    got = session.run(None, {"image": x.numpy()})[0]
    assert got.shape == ref.shape and np.abs(got - ref).max() < 1e-4
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    assert (
        json.loads(props["liftnet_config"])["prior"] == prior and json.loads(props["checkpoint_metadata"])["step"] == 7
    )


def test_export_of_a_missing_checkpoint_fails_in_one_line(tmp_path):
    run = CliRunner().invoke(
        cli, ["export", "onnx", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "m.onnx")]
    )
    assert run.exit_code == 1 and len(run.stderr.strip().splitlines()) == 1 and "not found" in run.stderr
    assert not (tmp_path / "m.onnx").exists()


def test_the_shipped_export_is_the_shipped_models():
    from pointkit.lifting.model import DEFAULT_CHECKPOINT, load_model
    from pointkit.models.onnx_model import export_path, file_sha256

    props = {p.key: p.value for p in onnx.load(str(export_path(DEFAULT_CHECKPOINT))).metadata_props}
    assert props["checkpoint_sha256"] == file_sha256(DEFAULT_CHECKPOINT)  # re-export after changing the model
    assert getattr(load_model(None, "cpu", "auto")[0], "backend", "torch") == "onnx"
    assert getattr(load_model(None, "cpu", "torch")[0], "backend", "torch") == "torch"


@pytest.mark.slow
@pytest.mark.parametrize("prior", ["none", "silhouette"])
def test_lift_by_onnxruntime_equals_lift_by_torch_and_stale_exports_are_not_used(tmp_path, prior):
    import pointkit
    from pointkit.errors import PointkitError
    from pointkit.render import render_views, sculpture

    torch.manual_seed(0)
    ckpt = (
        LiftNet(LiftNetConfig(input_size=32, ngf=4, prior=prior, mask_head=True))
        .eval()
        .save(tmp_path / "m.safetensors")
    )
    image = render_views(sculpture(0, 1), [(20.0, 0.0)], 64)[0].image
    with pytest.raises(PointkitError, match="no ONNX export made from it"):
        pointkit.lift(image, checkpoint=ckpt, mask="none", backend="onnx")
    assert (
        CliRunner().invoke(cli, ["-q", "export", "onnx", str(ckpt), "--out", str(tmp_path / "m.onnx")]).exit_code == 0
    )
    by_onnx = pointkit.lift(image, checkpoint=ckpt, mask="grabcut", backend="onnx")
    by_torch = pointkit.lift(image, checkpoint=ckpt, mask="grabcut", backend="torch")
    assert np.abs(by_onnx.raw - by_torch.raw).max() < 1e-4 and np.array_equal(by_onnx.mask, by_torch.mask)
    LiftNet(LiftNetConfig(input_size=32, ngf=4, prior=prior, mask_head=True)).save(ckpt)  # retrained: export is stale
    with pytest.raises(PointkitError, match="no ONNX export made from it"):
        pointkit.lift(image, checkpoint=ckpt, mask="none", backend="onnx")
    from pointkit.lifting.model import load_model

    assert getattr(load_model(ckpt, "cpu", "auto")[0], "backend", "torch") == "torch"  # auto falls back to torch
    assert pointkit.lift(image, checkpoint=ckpt, mask="none", backend="auto").depth.shape == image.shape[:2]


def test_lift_with_the_shipped_model_runs_without_torch(tmp_path):
    """What makes `pointkit lift` fast on the CPU: with the shipped export, torch is never imported
    (here it cannot be: the child process blocks it)."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "venus_de_milo_cast.png"
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from pointkit_cli.main import cli\n"
        f"cli(['-q', 'lift', {str(example)!r}, '--out', {str(tmp_path)!r}, '--format', 'ply'])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads(run.stdout.strip().splitlines()[-1])["lifted"] == 1
    reference = tmp_path / "torch"
    assert (
        CliRunner()
        .invoke(cli, ["-q", "lift", str(example), "--out", str(reference), "--format", "ply", "--backend", "torch"])
        .exit_code
        == 0
    )
    a = np.load(tmp_path / "venus_de_milo_cast_depth.npy")
    b = np.load(reference / "venus_de_milo_cast_depth.npy")
    assert np.abs(a - b).max() < 1e-4 and (a > 0).sum() == (b > 0).sum()
