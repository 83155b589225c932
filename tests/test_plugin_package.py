"""A third-party plugin package made in the test run: one exporter, one matcher and one model.

It is made discoverable the way pip makes an installed distribution discoverable: a
``*.dist-info`` folder with ``entry_points.txt`` beside the module, in a folder on ``sys.path``
(in-process) or ``PYTHONPATH`` (a ``pointkit`` child process), so importlib.metadata finds it
like any other distribution and nothing is installed into the venv. The folder is removed after.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pointkit import registry
from pointkit.errors import PointkitError
from pointkit.models import LiftNet, LiftNetConfig, load_checkpoint
from pointkit.models.liftnet import save_checkpoint
from pointkit_cli.main import cli

PLUGIN = '''"""pointkit test plugin: an .xyz exporter, a matcher keeping every other SIFT match, a tiny model."""
import torch

from pointkit.io import atomic_path
from pointkit.match.features import SiftMatcher
from pointkit.meshing import Exporter


def _write_xyz(result, path):
    with atomic_path(path) as tmp:
        tmp.write_text("".join(f"{x:.6f} {y:.6f} {z:.6f}\\n" for x, y, z in result.mesh.vertices))
    return [path]


XYZ = Exporter(".xyz", _write_xyz)


class HalfSift(SiftMatcher):
    def match(self, a, b):
        return super().match(a, b)[::2]


class TinyNet(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, width, 1)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
'''

ENTRY_POINTS = """[pointkit.exporters]
xyz = pointkit_testplugin:XYZ

[pointkit.matchers]
halfsift = pointkit_testplugin:HalfSift

[pointkit.models]
tinynet = pointkit_testplugin:TinyNet
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory):
    """The folder holding the plugin package and its dist-info, on sys.path for this module's tests."""
    site = tmp_path_factory.mktemp("site")
    (site / "pointkit_testplugin.py").write_text(PLUGIN)
    info = site / "pointkit_testplugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pointkit-testplugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(site))
    yield site
    sys.path.remove(str(site))
    sys.modules.pop("pointkit_testplugin", None)
    shutil.rmtree(site)
    assert "xyz" not in registry.available("pointkit.exporters")


def test_pointkit_plugins_lists_and_imports_them(plugin_site):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(plugin_site), os.environ.get("PYTHONPATH")]))}
    run = subprocess.run(
        [sys.executable, "-m", "pointkit_cli.main", "plugins", "--json", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    table = json.loads(run.stdout)
    for group, name in (
        ("pointkit.exporters", "xyz"),
        ("pointkit.matchers", "halfsift"),
        ("pointkit.models", "tinynet"),
    ):
        (row,) = [r for r in table[group] if r["name"] == name]
        assert row["distribution"] == "pointkit-testplugin 0.1" and row["status"] == "ok", row
    assert {"glb", "npz", "obj", "ply", "points", "xyz"} <= {r["name"] for r in table["pointkit.exporters"]}


def test_lift_format_from_the_plugin(plugin_site, tmp_path):
    import trimesh

    from pointkit.lifting.outputs import output_files

    torch.manual_seed(0)
    checkpoint = LiftNet(LiftNetConfig(input_size=32, ngf=4)).save(tmp_path / "tiny.safetensors")
    rng = np.random.default_rng(0)
    image = np.full((48, 64, 3), 255, np.uint8)
    image[10:38, 16:48] = rng.integers(0, 200, (28, 32, 3))
    Image.fromarray(image).save(tmp_path / "a.png")
    out = tmp_path / "out"
    run = CliRunner().invoke(
        cli,
        [
            "-q",
            "lift",
            str(tmp_path / "a.png"),
            "--checkpoint",
            str(checkpoint),
            "--mask",
            "grabcut",
            "--format",
            "glb,xyz",
            "--out",
            str(out),
        ],
    )
    assert run.exit_code == 0, run.output
    assert out / "a.xyz" in output_files(out, "a", "glb,xyz") and (out / "a.xyz").is_file()
    mesh = trimesh.load(out / "a.glb", force="mesh", process=False)
    points = np.loadtxt(out / "a.xyz")
    assert points.shape == (len(mesh.vertices), 3)
    assert np.allclose(np.unique(points.round(5), axis=0), np.unique(mesh.vertices.round(5), axis=0), atol=2e-5)
    bad = CliRunner().invoke(cli, ["lift", str(tmp_path / "a.png"), "--format", "stl", "--out", str(out)])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    assert "unknown format stl; use one or more of glb, npz, obj, ply, points, xyz" in bad.output


def test_match_uses_the_plugin_matcher(plugin_site, shared_data, tmp_path):
    photos = tmp_path / "photos" / "dino"
    photos.mkdir(parents=True)
    for name in ("dinoSR0001.png", "dinoSR0002.png"):
        (photos / name).symlink_to(shared_data / "photos" / "dinoSparseRing" / name)
    matches = {}
    for matcher in ("sift", "halfsift"):
        out = tmp_path / matcher
        run = CliRunner().invoke(
            cli,
            [
                "-q",
                "match",
                str(photos.parent),
                "--out",
                str(out),
                "--matcher",
                matcher,
                "--max-size",
                "320",
                "--resolution",
                "64",
                "--min-matches",
                "4",
                "--min-inliers",
                "5",
            ],
        )
        assert run.exit_code == 0, run.output
        assert json.loads((out / "manifest.json").read_text())["settings"]["matcher"] == matcher
        (row,) = json.loads((out / "report.json").read_text())
        matches[matcher] = row["matches"]
    assert matches["sift"] >= 20 and matches["halfsift"] == (matches["sift"] + 1) // 2
    bad = CliRunner().invoke(cli, ["match", str(photos.parent), "--out", str(tmp_path / "x"), "--matcher", "nope"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1
    assert "no pointkit.matchers plugin named 'nope' (available: halfsift, sift)" in bad.output


def test_checkpoint_loads_into_the_architecture_it_names(plugin_site, tmp_path):
    from pointkit_testplugin import TinyNet

    torch.manual_seed(0)
    net = TinyNet(width=5)
    path = save_checkpoint(net, tmp_path / "t.safetensors", "tinynet", {"width": 5}, {"step": 3})
    model, meta = load_checkpoint(path)
    assert type(model) is TinyNet and not model.training and meta == {"step": 3}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), net.state_dict().values()))
    save_checkpoint(net, tmp_path / "u.safetensors", "nosuch", {"width": 5})
    with pytest.raises(
        PointkitError, match=r"no pointkit.models plugin named 'nosuch' \(available: liftnet, tinynet\)"
    ):
        load_checkpoint(tmp_path / "u.safetensors")
