"""Memory bounds by estimate (pointkit.memory): the estimate is within 2x of a real run's peak
RSS, and the one limit (--max-memory-gb, POINTKIT_MAX_MEMORY_GB) refuses a job before it runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import trimesh
from click.testing import CliRunner

from pointkit import memory
from pointkit_cli.main import cli

# Runs the CLI in a fresh interpreter and prints that process's own peak RSS in bytes: VmHWM from
# /proc/self/status, which starts anew at exec (ru_maxrss keeps the forking parent's peak, so a
# big pytest process would inflate it).
PEAK_RSS = (
    "import sys; from pointkit_cli.main import cli\n"
    "try:\n    cli(sys.argv[1:], standalone_mode=False)\n"
    "finally:\n"
    "    hwm = next(line for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "    print(int(hwm.split()[1]) * 1024)"
)


def _peak_rss(args: list[str]) -> float:
    run = subprocess.run([sys.executable, "-c", PEAK_RSS, "-q", *args], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    return float(run.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux)")
def test_view_estimate_is_within_2x_of_the_peak_rss(tmp_path):
    trimesh.creation.icosphere(subdivisions=4).export(tmp_path / "ball.ply")
    faces = len(trimesh.load(tmp_path / "ball.ply").faces)
    peak = _peak_rss(
        ["view", str(tmp_path / "ball.ply"), "--views", "2", "--size", "2048", "--out", str(tmp_path / "strip.png")]
    )
    estimate = memory.view_bytes(2, 2048, faces)
    assert peak / 2 < estimate < 2 * peak, (estimate / memory.GB, peak / memory.GB)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux)")
def test_render_estimate_is_within_2x_of_the_peak_rss(tmp_path):
    peak = _peak_rss(
        ["render-synthetic", "--procedural", "1", "--views", "4", "--resolution", "1024", "--out", str(tmp_path / "ds")]
    )
    estimate = memory.render_job_bytes(4, 1024, 1000)
    assert peak / 2 < estimate < 2 * peak, (estimate / memory.GB, peak / memory.GB)


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status (Linux)")
def test_lift_estimate_is_within_2x_of_the_peak_rss_and_refuses_before_decoding(tmp_path):
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (300, 400, 3), np.uint8)
    Image.fromarray(noise).resize((4000, 3000), Image.BILINEAR).save(tmp_path / "big.jpg", quality=90)  # 12 Mpixel
    peak = _peak_rss(["lift", str(tmp_path / "big.jpg"), "--out", str(tmp_path / "o"), "--format", "glb"])
    estimate = memory.lift_bytes(3000, 4000)
    assert peak / 2 < estimate < 2 * peak, (estimate / memory.GB, peak / memory.GB)
    run = CliRunner().invoke(
        cli, ["lift", str(tmp_path / "big.jpg"), "--out", str(tmp_path / "p"), "--max-memory-gb", "0.5"]
    )
    assert run.exit_code == 1 and "big.jpg: lift at 4000x3000 is too big" in run.stderr, run.output
    assert len(run.stderr.strip().splitlines()) == 1 and not list((tmp_path / "p").glob("*"))  # nothing written


def test_the_limit_comes_from_the_environment_too(tmp_path):
    args = ["render-synthetic", "--procedural", "1", "--views", "2", "--resolution", "16", "--out", str(tmp_path / "o")]
    run = CliRunner().invoke(cli, args, env={memory.ENV: "0.01"})
    assert run.exit_code == 1 and "over the limit of 0.01 GB" in run.stderr, run.output
    assert not (tmp_path / "o").exists()


def test_default_limit_is_a_share_of_this_machines_memory():
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / memory.GB
    assert memory.default_limit_gb() == pytest.approx(memory.DEFAULT_FRACTION * total, abs=0.06)


def test_estimates_grow_with_what_a_job_allocates():
    small = memory.render_job_bytes(5, 256, 1000)
    assert memory.render_job_bytes(10, 256, 1000) > small + 5 * memory.PIXEL_BYTES * 256**2
    assert memory.render_job_bytes(5, 256, 0) > memory.render_job_bytes(5, 256, 1000)
    assert memory.render_job_bytes(5, 256, 1000, workers=4) > 4 * small
    assert memory.view_bytes(8, 512, 10) > memory.view_bytes(8, 256, 10)
