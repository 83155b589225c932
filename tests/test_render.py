"""Mesh loading, procedural sculptures, presets, the fast renderer and the dataset job."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import trimesh
from click.testing import CliRunner

from pointkit.data.format import Dataset, object_path
from pointkit.errors import PointkitError
from pointkit.geometry import gt_correspondences
from pointkit.render import KINDS, build_dataset, load_mesh, preset_views, render_views, sculpture
from pointkit.render import dataset as job

RES = 32


class TestMeshes:
    def test_normalised_into_unit_sphere(self, tmp_path):
        path = tmp_path / "box.obj"
        trimesh.creation.box([4.0, 2.0, 1.0], transform=trimesh.transformations.translation_matrix([10, 5, 1])).export(
            path
        )
        mesh = load_mesh(path)
        np.testing.assert_allclose(np.linalg.norm(mesh.vertices, axis=1).max(), 1.0)
        np.testing.assert_allclose(mesh.bounds.mean(0), 0, atol=1e-12)

    def test_unreadable_and_degenerate(self, tmp_path):
        (tmp_path / "junk.ply").write_bytes(b"ply\nformat nonsense\n\x00\x01")
        (tmp_path / "empty.obj").write_text("")
        (tmp_path / "line.obj").write_text("v 0 0 0\nv 1 1 1\nv 2 2 2\nf 1 2 3\n")
        (tmp_path / "nan.obj").write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
        for name in ("junk.ply", "empty.obj", "line.obj", "nan.obj"):
            with pytest.raises(PointkitError, match=name):
                load_mesh(tmp_path / name)

    def test_open_mesh_with_components_renders(self):
        half = trimesh.creation.icosphere(subdivisions=3)
        half.update_faces(half.triangles_center[:, 2] > 0)  # an open shell
        mesh = trimesh.util.concatenate([half, trimesh.creation.box([0.3] * 3)])
        (back,) = render_views(mesh, [(180, 0)], RES)  # looks into the open side
        assert back.mask.sum() > 100 and back.image[back.mask].mean() > 5

    def test_real_scan(self, shared_data):
        path = shared_data / "meshes" / "scans" / "stanford-bunny.obj"
        if not path.exists():
            pytest.skip(f"{path} not found")
        views = render_views(path, preset_views("sketchfab", 2), 48)
        for v in views:
            assert 200 < v.mask.sum() < 48 * 48
            assert 1.0 <= v.depth[v.mask].min() and v.depth[v.mask].max() <= 3.0
        uv_a, uv_b = gt_correspondences(*views)
        assert len(uv_a) > 100


class TestRenderViews:
    def test_outputs(self):
        views = render_views(sculpture(0, 1), [(0, 0), (45, 10)], RES, seed=3)
        for v in views:
            assert v.image.shape == (RES, RES, 3) and v.image.dtype == np.uint8
            assert v.depth.shape == (RES, RES) and v.depth.dtype == np.float32
            assert v.mask.dtype == bool and (v.mask == (v.depth > 0)).all()
            assert v.world_to_camera.shape == (3, 4) and v.affine.shape == (2, 4)

    def test_seeded_appearance(self):
        mesh = sculpture(0, 2)
        a = render_views(mesh, [(0, 0)], RES, seed=1)[0]
        b = render_views(mesh, [(0, 0)], RES, seed=1)[0]
        c = render_views(mesh, [(0, 0)], RES, seed=2)[0]
        assert a.image.tobytes() == b.image.tobytes()
        assert a.image.tobytes() != c.image.tobytes()
        np.testing.assert_array_equal(a.depth, c.depth)

    def test_unknown_renderer(self):
        with pytest.raises(PointkitError, match="no-such"):
            render_views(trimesh.creation.icosphere(), [(0, 0)], RES, renderer="no-such")


class TestPresetsAndSculptures:
    def test_presets(self):
        assert preset_views("sketchfab") == [(a, 0.0) for a in (0.0, 30.0, 60.0, 90.0, 120.0)]
        views = np.array(preset_views("shapenet", seed=5))
        assert views.shape == (10, 2)
        assert (views[:, 0] >= 0).all() and (views[:, 0] < 360).all() and (np.abs(views[:, 1]) <= 45).all()
        assert preset_views("shapenet", seed=5) == preset_views("shapenet", seed=5) != preset_views("shapenet", seed=6)
        assert len(preset_views("sketchfab", 3)) == 3
        with pytest.raises(PointkitError):
            preset_views("nope")

    @pytest.mark.parametrize("kind", KINDS)
    def test_sculptures_are_reproducible(self, kind):
        a, b, c = sculpture(4, 2, kind), sculpture(4, 2, kind), sculpture(4, 3, kind)
        assert a.vertices.tobytes() == b.vertices.tobytes() and a.faces.tobytes() == b.faces.tobytes()
        assert a.vertices.tobytes() != c.vertices.tobytes()
        assert len(a.faces) > 500
        np.testing.assert_allclose(np.linalg.norm(a.vertices, axis=1).max(), 1.0)

    def test_generator_draws_every_kind(self):
        from pointkit.render.procedural import KINDS as kinds, sculpture_kind

        drawn = {sculpture_kind(0, i) for i in range(200)}
        assert drawn == set(kinds)


def _arrays(path):
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


class TestDatasetJob:
    def test_builds_a_readable_dataset(self, tmp_path):
        summary = build_dataset(
            tmp_path / "ds", procedural=3, views=3, resolution=RES, max_corr=30, seed=1, progress=False
        )
        assert summary["rendered"] == 3 and summary["failed"] == 0
        ds = Dataset.open(tmp_path / "ds")
        m = ds.manifest
        assert (m["preset"], m["resolution"], m["renderer"], m["seed"], m["num_views"]) == (
            "sketchfab",
            RES,
            "fast",
            1,
            3,
        )
        assert sorted(ds.split("train") + ds.split("val") + ds.split("test")) == sorted(ds.objects)
        assert len(ds.split("train")) == len(ds.split("val")) == len(ds.split("test")) == 1  # none empty
        for object_id, entry in ds.objects.items():
            assert entry["split"] == job.job_splits(sorted(ds.objects), 1)[object_id]
            # Each sculpture's family and the call that rebuilds it: forcing the recorded family
            # gives the very mesh the generator draws (another family would give another mesh).
            gen = entry["generator"]
            assert gen["function"] == "pointkit.render.procedural.sculpture" and gen["seed"] == 1
            assert gen["index"] == entry["source"]["procedural"]
            drawn = sculpture(gen["seed"], gen["index"], families=gen["families"])
            forced = sculpture(gen["seed"], gen["index"], kind=entry["family"])
            assert np.array_equal(drawn.vertices, forced.vertices)
            rec = ds.read(object_id)
            assert rec.images.shape == (3, RES, RES, 3) and len(rec.pairs) == 6
            counts = np.diff(rec.pair_offsets)
            assert (counts <= 30).all() and counts.sum() > 0
            # The stored correspondences are those recomputed from the stored depth and cameras.
            p = int(np.argmax(counts))
            a, b = rec.pairs[p]
            ua, ub = gt_correspondences(rec.view(a), rec.view(b), 30, entry["seed"] + p)
            np.testing.assert_array_equal(rec.correspondences(p)[0], ua)
            np.testing.assert_array_equal(rec.correspondences(p)[1], ub)

    def test_resume_after_interruption(self, tmp_path, monkeypatch):
        out = tmp_path / "ds"
        real, calls = job._render_object, []

        def crash_on_third(task):
            calls.append(task["object_id"])
            if len(calls) == 3:
                raise KeyboardInterrupt
            return real(task)

        monkeypatch.setattr(job, "_render_object", crash_on_third)
        with pytest.raises(KeyboardInterrupt):
            build_dataset(out, procedural=4, views=2, resolution=RES, progress=False)
        # What finished is on disk and in the manifest; a kill -9 leftover temp file is ignored.
        done = Dataset.open(out)
        assert sorted(done.objects) == calls[:2]
        first = object_path(out, calls[0])
        stamp = first.stat().st_mtime_ns
        (out / "objects" / ".sculpture-000003.npz.tmp-x.npz").write_bytes(b"partial")
        monkeypatch.setattr(job, "_render_object", real)
        summary = build_dataset(out, procedural=4, views=2, resolution=RES, progress=False)
        assert (summary["skipped"], summary["rendered"]) == (2, 2)
        assert first.stat().st_mtime_ns == stamp
        assert len(Dataset.open(out).objects) == 4
        with pytest.raises(PointkitError, match="other settings"):
            build_dataset(out, procedural=4, views=2, resolution=RES * 2, progress=False)

    def test_bad_meshes_are_recorded_and_skipped(self, tmp_path):
        meshes = tmp_path / "meshes"
        (meshes / "sub").mkdir(parents=True)
        trimesh.creation.icosphere(subdivisions=2).export(meshes / "sub" / "ball.obj")
        (meshes / "broken.ply").write_bytes(b"not a mesh at all")
        (meshes / "flat.obj").write_text("v 0 0 0\nv 1 0 0\nv 2 0 0\nf 1 2 3\n")
        summary = build_dataset(tmp_path / "ds", meshes=meshes, views=2, resolution=RES, progress=False)
        assert (summary["rendered"], summary["failed"]) == (1, 2)
        ds = Dataset.open(tmp_path / "ds")
        assert list(ds.objects) == ["sub--ball.obj"]
        reasons = {f["object"]: f["reason"] for f in ds.failures}
        assert set(reasons) == {"broken.ply", "flat.obj"} and "degenerate" in reasons["flat.obj"]

    def test_bad_renderer_fails_before_any_output(self, tmp_path):
        for renderer, options, message in [("no-such", {}, "no-such"), ("fast", {"bogus": 1}, "bogus")]:
            with pytest.raises(PointkitError, match=message):
                build_dataset(
                    tmp_path / "ds",
                    procedural=2,
                    views=2,
                    resolution=RES,
                    renderer=renderer,
                    renderer_options=options,
                    progress=False,
                )
        assert not (tmp_path / "ds").exists()

    def test_shards_read_as_one_dataset(self, tmp_path):
        kw = dict(procedural=3, views=2, resolution=RES, progress=False, seed=2)
        build_dataset(tmp_path / "whole", **kw)
        for i in range(2):
            build_dataset(tmp_path / "sharded", shard=f"{i}/2", **kw)
        whole, sharded = Dataset.open(tmp_path / "whole"), Dataset.open(tmp_path / "sharded")
        assert len(sharded.manifests) == 2 and sharded.objects.keys() == whole.objects.keys()
        for object_id in whole.objects:
            a = _arrays(object_path(tmp_path / "whole", object_id))
            b = _arrays(object_path(tmp_path / "sharded", object_id))
            assert all(np.array_equal(a[k], b[k]) for k in a)
        with pytest.raises(PointkitError, match="shard"):
            build_dataset(tmp_path / "x", shard="2/2", **kw)

    @pytest.mark.slow
    def test_workers_give_the_same_bytes(self, tmp_path):
        kw = dict(procedural=2, views=2, resolution=RES, progress=False)
        build_dataset(tmp_path / "one", **kw)
        build_dataset(tmp_path / "two", workers=2, **kw)
        for name in ("sculpture-000000", "sculpture-000001"):
            a, b = _arrays(object_path(tmp_path / "one", name)), _arrays(object_path(tmp_path / "two", name))
            assert all(np.array_equal(a[k], b[k]) for k in a)


def test_cli_render_and_show(tmp_path):
    from pointkit_cli.main import cli

    runner = CliRunner()
    out = tmp_path / "ds"
    result = runner.invoke(
        cli,
        [
            "-q",
            "render-synthetic",
            "--procedural",
            "2",
            "--out",
            str(out),
            "--views",
            "3",
            "--resolution",
            str(RES),
            "--max-corr",
            "-1",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["rendered"] == 2
    sheet = tmp_path / "sheet.png"
    result = runner.invoke(cli, ["show", str(out), "--object", "sculpture-000001", "--out", str(sheet)])
    assert result.exit_code == 0, result.output
    from PIL import Image

    image = np.asarray(Image.open(sheet))
    assert image.shape[1] == 3 * 160 and image.shape[0] == 4 * 160  # 3 views + the pair panel
    result = runner.invoke(cli, ["show", str(out), "--out", str(tmp_path / "sheet")])
    assert result.exit_code == 1 and "not an image format" in result.output and not (tmp_path / "sheet").exists()
    result = runner.invoke(cli, ["render-synthetic", "--out", str(out)])
    assert result.exit_code == 1 and "--meshes" in result.output
    assert not [p for p in os.listdir(out / "objects") if p.startswith(".")]


def test_cli_render_exits_1_when_an_object_failed(tmp_path):
    from pointkit_cli.main import cli

    meshes = tmp_path / "meshes"
    meshes.mkdir()
    (meshes / "broken.obj").write_text("this is not an obj file\n")
    trimesh.creation.icosphere(subdivisions=2).export(meshes / "ball.obj")
    result = CliRunner().invoke(
        cli,
        [
            "-q",
            "render-synthetic",
            "--meshes",
            str(meshes),
            "--out",
            str(tmp_path / "ds"),
            "--views",
            "2",
            "--resolution",
            "32",
        ],
    )
    assert result.exit_code == 1 and "1 of 2 objects failed to render" in result.output, result.output
    summary = json.loads([line for line in result.output.splitlines() if line.startswith("{")][-1])
    assert summary["rendered"] == 1 and summary["failed"] == 1  # the good mesh was kept


def test_up_axis_z_stands_z_up_scans_upright(tmp_path):
    """--up z turns a Z-up mesh (a tall box along z) to pointkit's Y-up; the manifest records it
    and a resume with another up axis is refused."""
    from pointkit.render import load_mesh
    from pointkit_cli.main import cli

    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.box(extents=(0.3, 0.5, 2.0)).export(meshes / "tower.ply")
    lying, standing = load_mesh(meshes / "tower.ply"), load_mesh(meshes / "tower.ply", up="z")
    assert np.argmax(lying.extents) == 2 and np.argmax(standing.extents) == 1
    assert np.allclose(standing.extents, lying.extents[[0, 2, 1]], atol=1e-6)
    args = [
        "-q",
        "render-synthetic",
        "--meshes",
        str(meshes),
        "--out",
        str(tmp_path / "ds"),
        "--resolution",
        "32",
        "--views",
        "2",
        "--max-corr",
        "10",
    ]
    run = CliRunner().invoke(cli, args + ["--up", "z"])
    assert run.exit_code == 0, run.output
    ds = Dataset.open(tmp_path / "ds")
    assert ds.manifest["up"] == "z"
    mask = ds.read(ds.split("all")[0]).masks[0]
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    assert rows[-1] - rows[0] > 2 * (cols[-1] - cols[0])  # standing: taller than wide
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "other settings (up)" in again.stderr


def test_a_failed_object_is_reported_on_its_own_line_not_on_the_progress_bar(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    meshes = tmp_path / "meshes"
    meshes.mkdir()
    trimesh.creation.icosphere(subdivisions=1).export(meshes / "a.ply")
    (meshes / "b.ply").write_text("not a mesh")
    trimesh.creation.box().export(meshes / "c.ply")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pointkit_cli.main",
            "render-synthetic",
            "--meshes",
            str(meshes),
            "--out",
            str(tmp_path / "ds"),
            "--resolution",
            "32",
            "--views",
            "2",
        ],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1
    lines = [line.strip() for line in run.stderr.replace("\r", "\n").splitlines() if line.strip()]
    failed = [line for line in lines if "b.ply failed" in line]
    assert failed and all(line.startswith("pointkit: b.ply failed") for line in failed), run.stderr
    assert lines[-1].startswith("Error: 1 of 3 objects failed")


def test_a_rerun_removes_temporaries_a_kill_left_for_its_own_objects_only(tmp_path):
    objects = tmp_path / "ds" / "objects"
    objects.mkdir(parents=True)
    mine, other = objects / ".sculpture-000001.npz.tmp-abc123.npz", objects / ".elsewhere-7.npz.tmp-xyz.npz"
    mine.write_bytes(b"half")
    other.write_bytes(b"another shard's")
    build_dataset(tmp_path / "ds", procedural=2, views=2, resolution=RES, max_corr=10, progress=False)
    assert not mine.exists() and other.exists()
