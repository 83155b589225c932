"""pointkit.lift: the depth rules (sign, tilt, scale), the API at input resolution, masks, files and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
import os
import struct
import zlib

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

import pointkit
from pointkit.errors import PointkitError
from pointkit.lifting.config import LiftConfig
from pointkit.lifting.folder import collect_images, lift_files
from pointkit.lifting.model import DEFAULT_CHECKPOINT
from pointkit.lifting.outputs import output_files, parse_formats, write_outputs
from pointkit.lifting.pipeline import lift_batch
from pointkit.lifting.rules import BULGE, resolve_depth
from pointkit.masks import grabcut_mask
from pointkit.metrics import depth_metrics
from pointkit.models import LiftNet, LiftNetConfig
from pointkit.render import render_views, sculpture
from pointkit_cli.main import cli


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A small real LiftNet (random init, seeded) with a mask head, saved as a checkpoint."""
    torch.manual_seed(0)
    return LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True)).save(
        tmp_path_factory.mktemp("ck") / "tiny.safetensors", {"trained": "no (test)"}
    )


@pytest.fixture(scope="module")
def view():
    return render_views(sculpture(0, 3, kind="blob"), [(30.0, 0.0)], 64)[0]


def ls_rmse(pred, gt, mask):
    t = lambda a: torch.from_numpy(np.asarray(a, np.float64))[None]  # noqa: E731
    return depth_metrics(t(pred), t(gt), t(mask), "ls")["rmse"]


def test_rules_undo_sign_and_tilt_of_a_sphere():
    """A hemisphere bulging toward the camera has no tilt: the rules recover it exactly from any
    a d + b u + c v + e with a < 0, up to scale and shift."""
    R = 48
    v, u = np.mgrid[0:R, 0:R] + 0.5
    r2 = (u - R / 2) ** 2 + (v - R / 2) ** 2
    mask = r2 < (0.4 * R) ** 2
    gt = np.where(mask, 100 - np.sqrt(np.clip((0.4 * R) ** 2 - r2, 0, None)), 0)
    raw = -0.7 * gt + 0.3 * u - 0.2 * v + 5
    assert ls_rmse(raw, gt, mask) > 1.0
    depth, rules = resolve_depth(raw, mask)
    assert rules["sign"] == -1.0
    assert ls_rmse(depth, gt, mask) < 1e-6 * gt[mask].max()
    # Rule 3: the 2-98 % extent is BULGE x the equivalent radius (in longer-side units); nearest at 1.
    extent = np.subtract(*np.percentile(depth[mask], [98, 2]))
    assert np.isclose(extent, BULGE * np.sqrt(mask.sum() / np.pi) / R)
    assert np.isclose(depth[mask].min(), 1.0) and (depth[~mask] == 0).all()
    double, _ = resolve_depth(raw, mask, depth_scale=2.0)
    assert np.isclose(np.ptp(double[mask]), 2 * np.ptp(depth[mask]))


def test_rules_on_corrupted_ground_truth(view):
    """Rendered ground truth under a random sign / scale / tilt / shift resolves to exactly what the
    truth itself resolves to: the rules see through the whole ambiguity (the rule's own cost, its
    removal of the object's true tilt, is measured on the test split by benchmarks/lift.py)."""
    m = view.mask
    g = view.depth * view.camera.scale
    v, u = np.mgrid[0:64, 0:64] + 0.5
    reference, _ = resolve_depth(g, m)
    rng = np.random.default_rng(1)
    for _ in range(4):
        raw = rng.choice([-1, 1]) * rng.uniform(0.5, 2) * g + rng.normal(0, 0.5) * u + rng.normal(0, 0.5) * v + 3
        depth, _ = resolve_depth(raw, m)
        assert np.allclose(depth, reference, atol=1e-5)
    assert np.corrcoef(reference[m], g[m])[0, 1] > 0.7
    assert ls_rmse(reference, view.depth, m) < 0.6 * view.depth[m].std()  # well under a flat depth's error


def test_lift_api_at_input_resolution(checkpoint, view):
    image = view.image[5:55, :60]  # non-square 50 x 60
    result = pointkit.lift(image, checkpoint=checkpoint, mask=view.mask[5:55, :60])
    assert result.depth.shape == (50, 60) and result.depth.dtype == np.float32
    assert result.mask.shape == (50, 60) and result.mask.dtype == bool
    assert np.array_equal(result.mask, view.mask[5:55, :60])
    assert (result.depth[~result.mask] == 0).all() and np.isclose(result.depth[result.mask].min(), 1.0)
    assert result.raw.shape == (50, 60) and np.isfinite(result.raw).all()
    assert len(result.mesh.vertices) <= result.mask.sum() and len(result.mesh.faces) > 0
    assert result.mesh.uv.shape == (len(result.mesh.vertices), 2)
    # pointkit.lift stays the function after its module was imported (from pointkit.lifting.pipeline import ...)
    again = pointkit.lift(image, checkpoint=checkpoint, mask="none", depth_scale=2.0)
    assert again.mask.all() and again.info["mask"] == "none"


def test_masks(tmp_path, checkpoint, view):
    rgba = np.concatenate([view.image, (view.mask * 255).astype(np.uint8)[..., None]], 2)
    assert np.array_equal(pointkit.lift(rgba, checkpoint=checkpoint).mask, view.mask)  # alpha first
    result = pointkit.lift(view.image, checkpoint=checkpoint)
    assert result.info["mask"] in ("network+grabcut", "network", "grabcut")  # then the mask head if plausible
    assert pointkit.lift(view.image, checkpoint=checkpoint, mask="grabcut").info["mask"] == "grabcut"
    assert pointkit.lift(view.image, checkpoint=checkpoint, mask="network").info["mask"] == "network"
    assert pointkit.lift(rgba, checkpoint=checkpoint, mask="alpha").info["mask"] == "alpha"
    with pytest.raises(PointkitError, match="no transparent pixels"):
        pointkit.lift(view.image, checkpoint=checkpoint, mask="alpha")
    Image.fromarray((view.mask * 255).astype(np.uint8)).save(tmp_path / "m.png")
    assert np.array_equal(pointkit.lift(view.image, checkpoint=checkpoint, mask=tmp_path / "m.png").mask, view.mask)
    with pytest.raises(PointkitError, match="all background"):
        pointkit.lift(view.image, checkpoint=checkpoint, mask=np.zeros((64, 64), bool))
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    with pytest.raises(PointkitError, match="mask is 10x10"):
        pointkit.lift(view.image, checkpoint=checkpoint, mask=tmp_path / "small.png")
    with pytest.raises(PointkitError, match="3x2 is too small"):  # --mask none: no advice to pass it
        pointkit.lift(view.image[:2, :3], checkpoint=checkpoint, mask="none")


def test_a_mask_name_that_is_no_source_nor_file_is_refused_before_any_image_is_read(tmp_path, checkpoint):
    """A typo in --mask is one option error (listing the names), not one failure per image."""
    names = "use one of auto, alpha, network, grabcut, none or the path of a mask image file"
    with pytest.raises(PointkitError, match=f"--mask 'grabcutt': {names}"):
        pointkit.lift(tmp_path / "not-read.png", checkpoint=checkpoint, mask="grabcutt")
    with pytest.raises(PointkitError, match=names):
        lift_batch([tmp_path / "not-read.png"], checkpoint, mask=tmp_path / "missing_mask.png")
    run = CliRunner().invoke(
        cli,
        ["lift", str(tmp_path), "--out", str(tmp_path / "o"), "--checkpoint", str(checkpoint), "--mask", "grabcutt"],
    )
    assert run.exit_code == 2 and names in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.output


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (1, 50), (50, 1)])
@pytest.mark.parametrize("mask", ["auto", "grabcut", "network", "none"])
def test_a_tiny_image_is_too_small_before_any_mask_work(checkpoint, shape, mask):
    """Under 16 pixels or a side under 2 (no 2 x 2 block to mesh): the one-line "too small" error
    whatever the mask source (GrabCut would fail on it with an OpenCV assertion)."""
    image = np.random.default_rng(0).integers(0, 255, (*shape, 3), dtype=np.uint8)
    with pytest.raises(PointkitError, match=f"{shape[1]}x{shape[0]} is too small to lift"):
        pointkit.lift(image, checkpoint=checkpoint, mask=mask)


def test_cli_a_1x1_image_is_one_line_too_small(tmp_path, checkpoint):
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    run = CliRunner().invoke(
        cli, ["lift", str(tmp_path / "dot.png"), "--out", str(tmp_path / "o"), "--checkpoint", str(checkpoint)]
    )
    assert run.exit_code == 1 and run.stderr.strip().splitlines() == [
        f"Error: {tmp_path / 'dot.png'}: 1x1 is too small to lift (at least 2x2 and 16 pixels)"
    ], run.output


def test_grabcut_finds_a_rendered_object():
    v = render_views(sculpture(0, 5, kind="blob"), [(0.0, 0.0)], 96)[0]
    g = grabcut_mask(v.image)
    assert (g & v.mask).sum() / (g | v.mask).sum() > 0.8


def test_files_round_trip_and_no_partial_set(tmp_path, checkpoint, view, monkeypatch):
    result = pointkit.lift(view.image, checkpoint=checkpoint, mask=view.mask)
    written = write_outputs(result, tmp_path, "obj1", "glb")
    assert [p.name for p in written] == [
        "obj1_depth.npy",
        "obj1_depth.png",
        "obj1_depth_color.png",
        "obj1_mask.png",
        "obj1.glb",
    ]
    assert np.array_equal(np.load(tmp_path / "obj1_depth.npy"), result.depth)
    png = Image.open(tmp_path / "obj1_depth.png")
    near, far = float(png.text["depth_near"]), float(png.text["depth_far"])
    q = np.asarray(png).astype(np.float64)
    assert ((q > 0) == result.mask).all()
    back = near + (q - 1) / 65534 * (far - near)
    assert np.abs(back - result.depth)[result.mask].max() <= (far - near) / 65534
    assert np.array_equal(np.asarray(Image.open(tmp_path / "obj1_mask.png")) > 0, result.mask)

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("pointkit.meshing.export_ply", broken)  # what the registered "ply" exporter calls
    with pytest.raises(OSError):
        write_outputs(result, tmp_path / "second", "obj2", "ply")
    assert list((tmp_path / "second").iterdir()) == []


def _huge_png(path):
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0))
        + chunk(b"IEND", b"")
    )


def test_cli_folder_one_bad_file(tmp_path, checkpoint, view):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(view.image).save(src / "good.png")
    (src / "bad.jpg").write_bytes(b"not a jpeg")
    (src / "empty.png").write_bytes(b"")
    _huge_png(src / "huge.png")
    out = tmp_path / "out"
    run = CliRunner().invoke(
        cli, ["-q", "lift", str(src), "--out", str(out), "--checkpoint", str(checkpoint), "--format", "ply"]
    )
    assert run.exit_code == 1
    summary = json.loads(run.stdout.splitlines()[0])
    assert summary["lifted"] == 1 and summary["failed"] == 3
    assert "3 of 4 images failed" in run.stderr
    for name in ("bad.jpg", "empty.png", "huge.png"):
        assert name in run.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["good_depth.npy", "good_depth.png", "good_depth_color.png", "good_mask.png", "good.ply", "config.json"]
    )
    saved = json.loads((out / "config.json").read_text())  # the run's settings, for the record
    assert saved["job"] == "lift" and saved["config"]["fmt"] == "ply" and saved["config"]["inputs"] == [str(src)]

    # --events: one JSON line per image, in order, before the summary (the Blender add-on's progress)
    run = CliRunner().invoke(
        cli,
        [
            "-q",
            "lift",
            str(src),
            "--out",
            str(out),
            "--checkpoint",
            str(checkpoint),
            "--format",
            "ply",
            "--skip-existing",
            "--events",
        ],
    )
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    events, summary = lines[:-1], lines[-1]
    assert [e["done"] for e in events] == [1, 2, 3, 4] and {e["total"] for e in events} == {4}
    by_name = {Path(e["image"]).name: e for e in events}
    assert by_name["good.png"].get("skipped") is True and summary["skipped"] == 1
    for name in ("bad.jpg", "empty.png", "huge.png"):
        assert name in by_name[name]["error"] and by_name[name]["error"] == summary["errors"][by_name[name]["image"]]


def test_folder_goes_on_after_an_unexpected_error_in_one_image(tmp_path, checkpoint, view, monkeypatch):
    import pointkit.lifting.pipeline as pipeline

    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        Image.fromarray(view.image).save(src / name)
    real = pipeline._load

    def flaky(path, *args, **kwargs):
        if Path(path).name == "a.png":
            raise RuntimeError("codec exploded\nsecond line")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_load", flaky)
    summary = lift_files(LiftConfig([src], tmp_path / "out", checkpoint=checkpoint, fmt="ply", progress=False))
    assert summary["lifted"] == 1 and summary["failed"] == 1
    assert summary["errors"][str(src / "a.png")].endswith("RuntimeError: codec exploded")
    written = {p.name for p in (tmp_path / "out").iterdir()} - {"config.json"}  # the job's settings, saved
    assert written and all(name.startswith("b") for name in written)  # nothing half-written for a.png


def test_a_run_that_writes_nothing_leaves_no_out_folder(tmp_path, checkpoint):
    """All inputs failed: the --out folders the run made are removed again, and no config.json is
    written; a folder that existed before is kept."""
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        (src / name).write_bytes(b"not a png")
    base = ["-q", "lift", "--checkpoint", str(checkpoint)]
    for inputs in ([str(src)], [str(src / "a.png")]):
        run = CliRunner().invoke(cli, base + inputs + ["--out", str(tmp_path / "new" / "out")])
        assert run.exit_code == 1 and "a.png" in run.stderr, run.output
        assert not (tmp_path / "new").exists()
    (tmp_path / "kept").mkdir()
    run = CliRunner().invoke(cli, base + [str(src), "--out", str(tmp_path / "kept")])
    assert run.exit_code == 1 and (tmp_path / "kept").is_dir() and list((tmp_path / "kept").iterdir()) == []


def test_cli_single_file_errors(tmp_path, checkpoint, view):
    Image.fromarray(view.image).save(tmp_path / "a.png")
    runner = CliRunner()
    if not DEFAULT_CHECKPOINT.is_file():
        run = runner.invoke(cli, ["lift", str(tmp_path / "a.png"), "--out", str(tmp_path / "o")])
        assert run.exit_code == 1 and "default model" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    run = runner.invoke(
        cli,
        [
            "lift",
            str(tmp_path / "a.png"),
            "--out",
            str(tmp_path / "o2"),
            "--checkpoint",
            str(checkpoint),
            "--mask",
            "none",
            "--format",
            "npz",
        ],
    )
    assert run.exit_code == 0, run.output
    assert (tmp_path / "o2" / "a.npz").is_file()
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        run = runner.invoke(
            cli, ["lift", str(tmp_path / "a.png"), "--out", str(locked), "--checkpoint", str(checkpoint)]
        )
        assert run.exit_code == 1 and "not writable" in run.stderr and str(locked) in run.stderr
        assert list(locked.iterdir()) == []


def test_shipped_default_model(view):
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.skip(f"the default model {DEFAULT_CHECKPOINT} is not shipped yet (issue 5: trained separately)")
    result = pointkit.lift(view.image)
    assert result.mask.any() and np.isfinite(result.depth).all()
    both = result.mask & view.mask
    # A trained model's resolved depth must at least order near and far like the truth.
    assert np.corrcoef(result.depth[both], view.depth[both])[0, 1] > 0


def test_cli_bad_options_and_name_clashes_fail_before_any_work(tmp_path, checkpoint, view):
    for name in ("d1", "d2"):
        (tmp_path / name).mkdir()
        Image.fromarray(view.image).save(tmp_path / name / "x.png")
    runner = CliRunner()
    base = ["lift", str(tmp_path / "d1"), "--checkpoint", str(checkpoint)]
    for extra, expected in (([str(tmp_path / "d2" / "x.png")], "would both write"),):
        out = tmp_path / "out"
        run = runner.invoke(cli, base + extra + ["--out", str(out)])
        assert run.exit_code == 1 and expected in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.output
        assert not out.exists() or list(out.iterdir()) == []
    # The same file named twice (directly and through its folder) is lifted once.
    run = runner.invoke(cli, ["-q"] + base + [str(tmp_path / "d1" / "x.png"), "--out", str(tmp_path / "once")])
    assert run.exit_code == 0 and json.loads(run.stdout)["lifted"] == 1


def test_auto_mask_falls_back_to_grabcut_when_the_learned_mask_is_implausible():
    from pointkit.imaging import from_array
    from pointkit.masks import object_mask, plausible_mask

    v = render_views(sculpture(0, 5, kind="blob"), [(0.0, 0.0)], 96)[0]
    everything = np.full(v.mask.shape, 5.0, np.float32)  # a mask head that says "all object"
    assert not plausible_mask(everything > 0) and plausible_mask(v.mask)
    mask, source = object_mask(from_array(v.image), everything, "auto")
    assert source == "grabcut" and (mask & v.mask).sum() / (mask | v.mask).sum() > 0.8
    mask, source = object_mask(from_array(v.image), np.where(v.mask, 5.0, -5.0).astype(np.float32), "auto")
    assert source == "network+grabcut" and np.array_equal(mask, v.mask)  # all sure: kept as it is


def test_recursive_folders_mirror_the_tree_in_several_formats_and_resume(tmp_path, checkpoint, view):
    """-r mirrors sub-folders under --out; --format takes a list (points: a PLY point cloud with
    normals and colours); --skip-existing leaves out images whose files are all there."""
    import trimesh

    src = tmp_path / "in"
    (src / "a" / "b").mkdir(parents=True)
    (src / ".hidden").mkdir()
    for rel in ("top.png", "a/b/deep.png", "a/b/top.png", ".hidden/x.png"):
        Image.fromarray(view.image).save(src / rel)
    out = tmp_path / "out"
    summary = lift_files(
        LiftConfig([src], out, fmt="glb,points", checkpoint=checkpoint, progress=False, recursive=True)
    )
    assert summary["lifted"] == 3 and summary["skipped"] == 0  # .hidden is left out
    for stem in ("top", "a/b/deep", "a/b/top"):
        for path in output_files(out, stem, ("glb", "points")):
            assert path.is_file(), path
    mesh = trimesh.load(out / "top.glb", force="mesh")
    cloud_bytes = (out / "top_points.ply").read_bytes()
    header = cloud_bytes[: cloud_bytes.index(b"end_header")].decode()
    assert all(f"property float {k}" in header for k in ("x", "nx", "ny", "nz")) and "property uchar red" in header
    cloud = trimesh.load(out / "top_points.ply")
    assert len(cloud.vertices) == len(mesh.vertices)
    # Without -r only the top folder's image; with --skip-existing nothing is lifted again.
    assert collect_images([src]) == [(src / "top.png", Path("."))]
    again = lift_files(
        LiftConfig(
            [src], out, fmt="points,glb", checkpoint=checkpoint, progress=False, recursive=True, skip_existing=True
        )
    )
    assert again["lifted"] == 0 and again["skipped"] == 3
    (out / "a" / "b" / "deep_points.ply").unlink()
    again = lift_files(
        LiftConfig(
            [src], out, fmt="glb,points", checkpoint=checkpoint, progress=False, recursive=True, skip_existing=True
        )
    )
    assert again["lifted"] == 1 and again["skipped"] == 2 and (out / "a" / "b" / "deep_points.ply").is_file()
    with pytest.raises(PointkitError, match="unknown format stl"):
        parse_formats("glb,stl")


def test_normals_flag_writes_unit_normal_maps_on_the_mask(tmp_path, checkpoint, view):
    Image.fromarray(view.image).save(tmp_path / "a.png")
    run = CliRunner().invoke(
        cli,
        [
            "-q",
            "lift",
            str(tmp_path / "a.png"),
            "--checkpoint",
            str(checkpoint),
            "--normals",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert run.exit_code == 0, run.output
    n = np.load(tmp_path / "o" / "a_normals.npy")
    mask = np.asarray(Image.open(tmp_path / "o" / "a_mask.png")) > 0
    assert n.shape == mask.shape + (3,) and np.allclose(np.linalg.norm(n[mask], axis=-1), 1, atol=1e-5)
    assert (n[~mask] == 0).all() and (n[mask][:, 2] > 0).all()  # front-facing, toward the viewer
    png = np.asarray(Image.open(tmp_path / "o" / "a_normals.png"))
    assert png.shape == n.shape and np.abs(png[mask] / 127.5 - 1 - n[mask]).max() < 0.01


def test_scale_from_puts_the_mesh_and_depth_in_metres(tmp_path, checkpoint, view):
    """--scale-from height=M: the mask's height spans M metres in the mesh; depth scales alike."""
    import trimesh

    rgba = np.dstack([view.image, np.where(view.mask, 255, 0).astype(np.uint8)])
    Image.fromarray(rgba).save(tmp_path / "a.png")
    rows = np.flatnonzero(view.mask.any(1))
    for spec, out in (("height=0.42", "m"), (None, "units")):
        args = [
            "-q",
            "lift",
            str(tmp_path / "a.png"),
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(tmp_path / out),
            "--normals",
        ]
        run = CliRunner().invoke(cli, args + (["--scale-from", spec] if spec else []))
        assert run.exit_code == 0, run.output
    k = 0.42 * max(view.mask.shape) / (rows[-1] - rows[0] + 1)
    metric = trimesh.load(tmp_path / "m" / "a.glb", force="mesh")
    plain = trimesh.load(tmp_path / "units" / "a.glb", force="mesh")
    assert np.allclose(metric.extents, plain.extents * k, rtol=1e-5)
    assert abs(metric.extents[1] - 0.42) < 0.42 * 2.0 / (rows[-1] - rows[0] + 1)  # within a grid step
    assert np.allclose(
        np.load(tmp_path / "m" / "a_depth.npy"), np.load(tmp_path / "units" / "a_depth.npy") * k, rtol=1e-5
    )
    # Normals are a property of the shape, not of its units.
    assert np.allclose(
        np.load(tmp_path / "m" / "a_normals.npy"), np.load(tmp_path / "units" / "a_normals.npy"), atol=1e-4
    )
    bad = CliRunner().invoke(
        cli, ["lift", str(tmp_path / "a.png"), "--out", str(tmp_path / "b"), "--scale-from", "height=-1"]
    )
    assert bad.exit_code == 2 and "height=METRES" in bad.stderr


def test_batched_inference_matches_one_image_at_a_time(tmp_path, checkpoint, view):
    """lift_batch runs one forward for images of different sizes; each result equals lift's on its
    own, and a bad image in the middle fails alone. lift_files --batch-size writes the same files."""
    images = [view.image, view.image[5:55, :60], np.zeros((0, 4, 3), np.uint8), np.ascontiguousarray(view.image[::-1])]
    results = lift_batch(images, checkpoint, mask="none")
    assert isinstance(results[2], PointkitError)
    for image, result in zip(images[:2] + images[3:], results[:2] + results[3:]):
        alone = pointkit.lift(image, checkpoint=checkpoint, mask="none")
        assert result.depth.shape == image.shape[:2]
        assert np.allclose(result.depth, alone.depth, atol=1e-5) and np.array_equal(result.mask, alone.mask)
    for k, image in enumerate(images[:2] + images[3:]):
        Image.fromarray(image).save(tmp_path / f"{k}.png")
    for batch in (1, 3):
        run = CliRunner().invoke(
            cli,
            [
                "-q",
                "lift",
                str(tmp_path),
                "--out",
                str(tmp_path / f"b{batch}"),
                "--checkpoint",
                str(checkpoint),
                "--format",
                "ply",
                "--batch-size",
                str(batch),
            ],
        )
        assert run.exit_code == 0, run.output
    for k in range(3):
        assert np.allclose(
            np.load(tmp_path / "b1" / f"{k}_depth.npy"), np.load(tmp_path / "b3" / f"{k}_depth.npy"), atol=1e-5
        )
    bad = CliRunner().invoke(cli, ["lift", str(tmp_path), "--out", str(tmp_path / "b0"), "--batch-size", "0"])
    assert bad.exit_code == 2 and not (tmp_path / "b0").exists()


def test_auto_mask_skips_a_head_the_checkpoint_marks_untrusted(tmp_path):
    """The same weights: a plausible learned mask is used by auto, unless the checkpoint's
    metadata says its training did not keep the head (then GrabCut); --mask network still uses it."""
    from pointkit.models import load_checkpoint

    candidate = Path(__file__).resolve().parents[1] / "models" / "h200-2026-12-04" / "finetune" / "best.safetensors"
    image = render_views(sculpture(0, 3, kind="blob"), [(30.0, 0.0)], 128)[0].image
    assert pointkit.lift(image, checkpoint=candidate).info["mask"] == "network+grabcut"
    model, meta = load_checkpoint(candidate)
    untrusted = model.save(tmp_path / "untrusted.safetensors", {**meta, "mask_head_trusted": False})
    assert pointkit.lift(image, checkpoint=untrusted).info["mask"] == "grabcut"
    assert pointkit.lift(image, checkpoint=untrusted, mask="network").info["mask"] == "network"
