"""scripts/gpu_run.sh, rehearsed on the CPU as its header says (TINY=1): set-up without an install,
training until the deadline, and the results packed for the transfer back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

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
    env = {**os.environ, "TINY": "1", "SKIP_BENCH": "1", "SECONDS_TOTAL": "70", "OUT": str(out), "PY": sys.executable}
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
    assert sorted(p.name for p in out.iterdir()) == ["fresh.tar", "log.txt"]  # work folders removed
    with tarfile.open(out / "fresh.tar") as tar:
        assert sorted(tar.getnames()) == ["best.safetensors", "run.json", "train.csv", "val.csv"]
        config = json.load(tar.extractfile("run.json"))["config"]
    assert config["synth"] == [str(banks / "tiny.npz")] and config["synth_zoom"] == [1.0, 1.5]
    log = (out / "log.txt").read_text()
    assert "training until" in log and "=== " in log and "done" in log
