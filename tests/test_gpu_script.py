"""scripts/gpu_run.sh, rehearsed on the CPU as its header says (TINY=1): set-up without an install,
the runs RUNS names until the deadline, the models kept at KEEP_STEPS, and the results packed in
float16 for the transfer back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open

from pointkit_cli.main import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_script_rehearsal_trains_and_packs_results(tmp_path):
    banks = tmp_path / "banks"
    res = CliRunner().invoke(
        cli,
        [
            "-q",
            "render-synthetic",
            "--procedural",
            "2",
            "--bank",
            "--grid",
            "24",
            "--out",
            str(tmp_path / "b"),
            "--option",
            "backgrounds=none",
        ],
    )
    assert res.exit_code == 0, res.output
    banks.mkdir()
    (tmp_path / "b" / "bank.npz").rename(banks / "tiny.npz")
    out = tmp_path / "out"
    env = {
        **os.environ,
        "TINY": "1",
        "SKIP_BENCH": "1",
        "SECONDS_TOTAL": "240",
        "KEEP_STEPS": "5 10",
        "RUNS": "corr=corr,128,1 corrssi=corr+ssi,256,2",
        "OUT": str(out),
        "PY": sys.executable,
    }
    env.pop("PYTHONPATH", None)
    run = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_run.sh"), str(banks)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["log.txt", "results.tar"]  # work folders removed
    with tarfile.open(out / "results.tar") as tar:
        names = {n.removeprefix("./") for n in tar.getnames()}
        for run_name, loss, size, mask_weight in (("corr", "corr", 32, 1.0), ("corrssi", "corr+ssi", 64, 2.0)):
            files = ["best.safetensors", "step5.safetensors", "step10.safetensors", "run.json", "train.csv", "val.csv"]
            assert {f"{run_name}/{f}" for f in files} <= names, names
            config = json.load(tar.extractfile(f"./{run_name}/run.json"))["config"]
            assert config["loss"] == loss and config["synth"] == [str(banks / "tiny.npz")]
            assert config["synth_zoom"] == [1.0, 1.5] and config["mask_weight"] == mask_weight
            assert config["model"]["input_size"] == size and config["keep_every"] == 5
            tar.extract(f"./{run_name}/best.safetensors", tmp_path / "x", filter="data")
            with safe_open(str(tmp_path / "x" / run_name / "best.safetensors"), framework="pt") as fh:
                assert {fh.get_tensor(k).dtype for k in fh.keys()} - {torch.int64} == {torch.float16}
    log = (out / "log.txt").read_text()
    assert "training until" in log and "done" in log
