"""pointkit view: offscreen turntable strips of meshes and depth maps (ray cast, no GL)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner
from PIL import Image

from pointkit.errors import PointkitError
from pointkit.meshing import depth_to_mesh, export_mesh, save_depth_npz
from pointkit.view import BACKGROUND, load_viewable, turntable, view
from pointkit_cli.main import cli


@pytest.fixture
def card():
    """A flat textured card facing the viewer: left half red, right half blue."""
    image = np.zeros((32, 32, 3), np.uint8)
    image[:, :16] = (255, 0, 0)
    image[:, 16:] = (0, 0, 255)
    depth = np.ones((32, 32))
    return depth, image, depth_to_mesh(depth, np.ones((32, 32), bool), image)


def test_front_frame_shows_the_texture_where_it_belongs(card):
    _, _, mesh = card
    strip = turntable(mesh, views=2, size=64, elevation=0.0).astype(int)
    assert strip.shape == (64, 128, 3)
    front = strip[:, :64]
    left, right = front[32, 12], front[32, 52]
    assert left[0] > 100 and left[2] < 30 and right[2] > 100 and right[0] < 30  # red left, blue right
    assert np.allclose(front[0, 0], np.round(BACKGROUND * 255), atol=1)  # corner: background
    # Frame 1 looks from behind (azimuth 180): the card is seen mirrored, red on the right.
    back = strip[:, 64:]
    assert back[32, 52][0] > 100 and back[32, 12][2] > 100


def test_plain_mesh_is_shaded_grey():
    strip = turntable(trimesh.creation.icosphere(subdivisions=2), views=3, size=48)
    centre = strip[24, 24].astype(int)
    assert abs(centre[0] - centre[1]) < 8 and centre.mean() > 60  # grey, lit
    assert strip.shape == (48, 144, 3)


def test_every_input_kind(tmp_path, card):
    depth, image, mesh = card
    export_mesh(mesh, tmp_path / "c.glb")
    export_mesh(mesh, tmp_path / "c.ply")
    np.save(tmp_path / "c_depth.npy", np.where(np.arange(32)[None] < 24, depth, 0).astype(np.float32))
    save_depth_npz(tmp_path / "c.npz", depth, np.ones((32, 32), bool), image, mesh)
    for name in ("c.glb", "c.ply", "c_depth.npy", "c.npz"):
        out = view(tmp_path / name, tmp_path / f"{name}.png", views=2, size=32)
        assert Image.open(out["out"]).size == (64, 32)
        assert out["faces"] == (2 * 31 * 23 if name == "c_depth.npy" else len(mesh.faces))


def test_bad_inputs(tmp_path, monkeypatch):
    (tmp_path / "junk.glb").write_bytes(b"no mesh here")
    with pytest.raises(PointkitError, match="junk.glb"):
        load_viewable(tmp_path / "junk.glb")
    with pytest.raises(PointkitError, match="no such file"):
        load_viewable(tmp_path / "missing.ply")
    np.save(tmp_path / "flat.npy", np.zeros(5))
    with pytest.raises(PointkitError, match="flat.npy"):
        load_viewable(tmp_path / "flat.npy")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    trimesh.creation.box().export(tmp_path / "box.ply")
    with pytest.raises(PointkitError, match="no display"):
        view(tmp_path / "box.ply", show=True)


def test_cli(tmp_path):
    trimesh.creation.box().export(tmp_path / "box.obj")
    run = CliRunner().invoke(
        cli, ["view", str(tmp_path / "box.obj"), "--out", str(tmp_path / "p.png"), "--views", "4", "--size", "40"]
    )
    assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["faces"] == 12 and Image.open(tmp_path / "p.png").size == (160, 40)
    run = CliRunner().invoke(cli, ["view", str(tmp_path / "box.obj")])
    assert run.exit_code == 1 and "nothing to do" in run.stderr


def test_view_out_without_image_suffix_is_a_one_line_error(tmp_path):
    import trimesh
    from click.testing import CliRunner

    from pointkit_cli.main import cli

    trimesh.creation.box().export(tmp_path / "box.ply")
    run = CliRunner().invoke(cli, ["view", str(tmp_path / "box.ply"), "--out", str(tmp_path / "preview")])
    assert run.exit_code == 1 and "not an image format" in run.output
    assert not (tmp_path / "preview").exists()
