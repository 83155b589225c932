"""The torch sample engine (pointkit.engine) against open3d ray casting and the collate_pairs format.

Resolutions: sculpture depth / correspondence checks at 64 x 64 px with a 64^3 SDF grid (int8
bank, truncation 0.1), the two-sphere occlusion scene at 64 px with a 48^3 grid.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import trimesh

from pointkit.engine import ShapeBank, mesh_to_sdf, orbit_cameras, pair_correspondences, trace
from pointkit.geometry import OrthoCamera
from pointkit.geometry.camera import project, unproject
from pointkit.render import sculpture
from pointkit.render.raycast import raycast

torch.set_num_threads(1)
R = 64
VIEWS = [(30.0, 10.0), (75.0, 25.0), (250.0, -10.0)]


@pytest.fixture(scope="module")
def head():
    mesh = sculpture(0, 1)  # a head (smooth, closed)
    bank = ShapeBank.from_grids(mesh_to_sdf(mesh, 64)[None], dtype="int8")
    return mesh, bank


def _trace(bank, views, res=R, index=0):
    az = torch.tensor([[a for a, _ in views]])
    el = torch.tensor([[e for _, e in views]])
    cams = orbit_cameras(az, el, res)
    return trace(bank.sdf(torch.tensor([index])), cams, bank.bound), cams


def _spheres_mesh():
    front = trimesh.creation.icosphere(subdivisions=4, radius=0.5)
    front.apply_translation([0.0, 0.0, 0.45])
    back = trimesh.creation.icosphere(subdivisions=4, radius=0.3)
    back.apply_translation([0.0, 0.0, -0.45])
    return trimesh.util.concatenate([front, back])


def test_cameras_match_orthocamera():
    cams = orbit_cameras(torch.tensor([[30.0, 200.0]]), torch.tensor([[10.0, -20.0]]), 96)
    for j, (a, e) in enumerate([(30.0, 10.0), (200.0, -20.0)]):
        ref = OrthoCamera.orbit(a, e, 96)
        np.testing.assert_allclose(cams.world_to_camera[0, j].numpy(), ref.world_to_camera, atol=1e-6)
        np.testing.assert_allclose(cams.affine[0, j].numpy(), ref.affine, atol=1e-4)


@pytest.mark.parametrize("kind", ["head", "vase"])
def test_depth_and_mask_match_raycast(head, kind):
    if kind == "head":
        mesh, bank = head
    else:  # a thin-walled vase whose triangles are wound inside out: checks the sign repair
        mesh = sculpture(0, 0)
        bank = ShapeBank.from_grids(mesh_to_sdf(mesh, 64)[None], dtype="int8")
    traced, _ = _trace(bank, VIEWS)
    hits = raycast(mesh, [OrthoCamera.orbit(a, e, R) for a, e in VIEWS])
    depth, mask = traced.depth[0].numpy(), traced.mask[0].numpy()
    assert (mask == hits.mask).mean() > 0.97
    for v in range(len(VIEWS)):
        both = mask[v] & hits.mask[v]
        span = np.ptp(hits.depth[v][hits.mask[v]])
        err = np.abs(depth[v] - hits.depth[v])[both] / span
        assert both.sum() > 0.2 * hits.mask[v].sum()
        assert np.median(err) < 0.005, (v, np.median(err))
        assert (err < 0.01).mean() > 0.95, (v, (err < 0.01).mean())
    # Depth is camera z and 0 off the object; normals are unit vectors on the object.
    assert (depth[~mask] == 0).all() and depth[mask].min() > 0.9 and depth[mask].max() < 3.1
    n = traced.normal[0][traced.mask[0]].norm(dim=-1)
    assert torch.allclose(n, torch.ones_like(n), atol=1e-4)


def _check_reprojection(mesh, bank, s_view, t_view, k=400):
    traced, cams = _trace(bank, [s_view, t_view])
    g = torch.Generator().manual_seed(3)
    from pointkit.engine import OrthoCameras

    cs = OrthoCameras(cams.world_to_camera[:, 0], cams.scale, R)
    ct = OrthoCameras(cams.world_to_camera[:, 1], cams.scale, R)
    src, tgt, valid = pair_correspondences(
        traced.depth[:, 0], traced.mask[:, 0], cs, traced.depth[:, 1], traced.mask[:, 1], ct, k, g
    )
    assert valid.sum() > 50
    src, tgt = src[0][valid[0]].numpy().astype(np.float64), tgt[0][valid[0]].numpy().astype(np.float64)
    cam_s, cam_t = OrthoCamera.orbit(*s_view, R), OrthoCamera.orbit(*t_view, R)
    exact = raycast(mesh, [cam_s])
    iu, iv = np.floor(src).astype(int).T
    assert exact.mask[0][iv, iu].all()
    world = unproject(src, exact.depth[0][iv, iu], cam_s.world_to_camera, cam_s.affine)
    uv, _ = project(world, cam_t.world_to_camera, cam_t.affine)
    # Where the SDF surface itself departs from the mesh (thin parts: the traced depth is another
    # surface than the ray cast's) no pairing can agree; report those pixels separately.
    agree = np.abs(traced.depth[0, 0].numpy()[iv, iu] - exact.depth[0][iv, iu]) < 0.01 * np.ptp(
        exact.depth[0][exact.mask[0]]
    )
    return world, np.linalg.norm(uv - tgt, axis=1), agree


def test_correspondences_reproject(head):
    mesh, bank = head
    for s_view, t_view in [((30.0, 10.0), (75.0, 25.0)), ((250.0, -10.0), (200.0, 5.0)), ((300.0, 25.0), (340.0, 0.0))]:
        _, dist, agree = _check_reprojection(mesh, bank, s_view, t_view)
        assert agree.mean() > 0.97
        assert dist[agree].max() < 0.5, (s_view, t_view, dist[agree].max())  # every pair on agreeing depth
        assert (dist < 0.5).mean() > 0.99 and np.median(dist) < 0.1


def test_occluded_points_are_never_paired():
    # From azimuth 0 (camera on +Z) the small back sphere hides entirely behind the front one;
    # from azimuth 90 both are visible side by side.
    mesh = _spheres_mesh()
    bank = ShapeBank.from_grids(mesh_to_sdf(mesh, 48)[None], dtype="int8")
    world, dist, _ = _check_reprojection(mesh, bank, (90.0, 0.0), (0.0, 0.0), k=1000)
    on_back = np.abs(np.linalg.norm(world - [0.0, 0.0, -0.45], axis=1) - 0.3) < 0.02
    on_front = np.abs(np.linalg.norm(world - [0.0, 0.0, 0.45], axis=1) - 0.5) < 0.02
    assert on_front.sum() > 50 and not on_back.any()
    assert dist.max() < 0.5
    # ... while the back sphere is paired with a view that sees it (azimuth 90 -> 120).
    world, dist, _ = _check_reprojection(mesh, bank, (90.0, 0.0), (120.0, 0.0), k=1000)
    assert (np.abs(np.linalg.norm(world - [0.0, 0.0, -0.45], axis=1) - 0.3) < 0.02).sum() > 20
    assert dist.max() < 0.5


@pytest.mark.slow
def test_bank_cli_and_train_synth_resume_exactly(tmp_path):
    """render-synthetic --bank writes a bank that train --synth trains from; resume is exact."""
    import json

    from click.testing import CliRunner
    from safetensors.torch import load_file

    from pointkit.training import TrainConfig, train
    from pointkit_cli.main import cli

    res = CliRunner().invoke(
        cli,
        [
            "-q",
            "render-synthetic",
            "--procedural",
            "3",
            "--bank",
            "--grid",
            "24",
            "--out",
            str(tmp_path / "b"),
            "--families",
            "blob,vase",
            "--option",
            "backgrounds=none",
        ],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output.strip().splitlines()[-1])
    assert summary["objects"] == 3 and (tmp_path / "b" / "bank.npz").is_file()
    assert summary["assets"] == {"photos": 0, "textures": 0, "sh": 0}
    odd = CliRunner().invoke(
        cli,
        [
            "-q",
            "render-synthetic",
            "--procedural",
            "1",
            "--bank",
            "--out",
            str(tmp_path / "x"),
            "--option",
            "samples=4",
        ],
    )
    assert odd.exit_code != 0 and "only appearance=DIR and backgrounds" in odd.output
    common = dict(
        datasets=[],
        synth=str(tmp_path / "b" / "bank.npz"),
        model=dict(input_size=32, ngf=4, mask_head=True),
        batch_size=2,
        threads=1,
        progress=False,
        hypotheses=16,
        val_every=2,
        checkpoint_every=1,
        patience=0,
        corr_per_pair=20,
        steps=4,
    )
    straight = train(TrainConfig(out=str(tmp_path / "a"), **common))
    assert straight["steps"] == 4 and straight["val_pairs"] > 0 and straight["best_val_corr_error_px"] > 0
    train(TrainConfig(out=str(tmp_path / "c"), **{**common, "steps": 2}))
    train(TrainConfig(out=str(tmp_path / "c"), resume=True, **common))
    wa, wc = load_file(str(tmp_path / "a" / "last.safetensors")), load_file(str(tmp_path / "c" / "last.safetensors"))
    assert all(torch.equal(wa[k], wc[k]) for k in wa)
    bad = CliRunner().invoke(cli, ["-q", "train", "--synth", str(tmp_path / "nope.npz"), "--out", str(tmp_path / "d")])
    assert bad.exit_code == 1 and "not a readable shape bank" in bad.output
    none = CliRunner().invoke(cli, ["-q", "train", "--out", str(tmp_path / "e")])
    assert none.exit_code == 1 and "--synth BANK" in none.output
    zoom = CliRunner().invoke(
        cli,
        [
            "-q",
            "train",
            "--synth",
            str(tmp_path / "b" / "bank.npz"),
            "--synth-zoom",
            "2,1",
            "--out",
            str(tmp_path / "f"),
            "--steps",
            "1",
        ],
    )
    assert zoom.exit_code == 2 and "--synth-zoom" in zoom.output  # a usage error, like every range
    # Two banks pool their shapes (the same bank twice: 6 shapes).
    twice = train(
        TrainConfig(
            out=str(tmp_path / "g"), **{**common, "synth": [common["synth"]] * 2, "steps": 1, "synth_zoom": (1.0, 1.4)}
        )
    )
    assert twice["steps"] == 1 and json.loads((tmp_path / "g" / "run.json").read_text())["config"]["synth_zoom"] == [
        1.0,
        1.4,
    ]


@pytest.mark.slow
def test_engine_renderer_writes_the_dataset_format_with_ray_cast_geometry(tmp_path):
    """render-synthetic --renderer engine: a dataset show / train read, its depth next to the fast
    renderer's exact ray cast of the same sculptures and views."""
    from click.testing import CliRunner

    from pointkit.data.format import Dataset
    from pointkit_cli.main import cli

    args = ["-q", "render-synthetic", "--procedural", "2", "--resolution", "64", "--max-corr", "50", "--seed", "3"]
    for renderer in ("engine", "fast"):
        res = CliRunner().invoke(cli, args + ["--renderer", renderer, "--out", str(tmp_path / renderer)])
        assert res.exit_code == 0, res.output
    ds, fast = Dataset.open(tmp_path / "engine"), Dataset.open(tmp_path / "fast")
    assert len(ds.split("all")) == 2 and ds.manifest["renderer"] == "engine"
    for oid in ds.split("all"):
        eng, ref = ds.read(oid), fast.read(oid)
        assert eng.images.shape == ref.images.shape and eng.images.dtype == np.uint8
        assert (eng.masks == ref.masks).mean() > 0.97
        both = eng.masks & ref.masks
        span = ref.depth[ref.masks].max() - ref.depth[ref.masks].min()
        assert np.median(np.abs(eng.depth[both] - ref.depth[both])) < 0.005 * span
        assert len(eng.pairs) > 0 and len(eng.uv_src) > 0
    shown = CliRunner().invoke(cli, ["-q", "show", str(tmp_path / "engine"), "--out", str(tmp_path / "s.png")])
    assert shown.exit_code == 0 and (tmp_path / "s.png").is_file()
