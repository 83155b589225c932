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
    run = CliRunner().invoke(cli, ["-q", "export", "onnx", str(tmp_path / "m.safetensors"), "--out", str(tmp_path / "m.onnx")])
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
    assert json.loads(props["liftnet_config"])["prior"] == prior and json.loads(props["checkpoint_metadata"])["step"] == 7


def test_export_of_a_missing_checkpoint_fails_in_one_line(tmp_path):
    run = CliRunner().invoke(cli, ["export", "onnx", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "m.onnx")])
    assert run.exit_code == 1 and len(run.stderr.strip().splitlines()) == 1 and "not found" in run.stderr
    assert not (tmp_path / "m.onnx").exists()
