"""Bad input, as a table: every row is a command that must fail before doing any work, with its
exit code (2: a usage error, an option value out of range; 1: bad data or files), a fragment of
its one-line message, and nothing written under --out. Issue 12's defects are rows here."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from click.testing import CliRunner
from PIL import Image

from pointkit.models import LiftNet, LiftNetConfig
from pointkit_cli.main import cli

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "pointkit" / "assets" / "liftnet-default.safetensors"

# {img}: a small PNG; {out}: a fresh output folder; {pickle}: a torch.save file; {empty}: an empty
# folder; {photos}: a folder with one photo sub-folder; {mesh}: a .npz depth file; {ply}: a small mesh.
CASES = [
    # usage errors: exit 2
    (["lift", "{img}", "--out", "{out}", "--mesh-resolution", "0"], 2, "--mesh-resolution"),
    (["lift", "{img}", "--out", "{out}", "--mesh-resolution", "100000"], 2, "--mesh-resolution"),
    (["lift", "{img}", "--out", "{out}", "--depth-scale", "0"], 2, "--depth-scale"),
    (["lift", "{img}", "--out", "{out}", "--depth-scale", "1e30"], 2, "--depth-scale"),
    (["lift", "{img}", "--out", "{out}", "--max-pixels", "-1"], 2, "--max-pixels"),
    (["lift", "{img}", "--out", "{out}", "--format", "stl"], 2, "--format"),
    (["lift", "{img}", "--out", "{out}", "--mask", "grabcutt"], 2, "use one of auto, alpha, network, grabcut, none"),
    (["lift", "--out", "{out}"], 2, "Missing argument"),
    (["train", "{empty}", "--out", "{out}", "--steps", "1", "--threads", "-1"], 2, "--threads"),
    (["train", "{empty}", "--out", "{out}", "--steps", "1", "--ngf", "0"], 2, "--ngf"),
    (["train", "{empty}", "--out", "{out}", "--steps", "1", "--dropout", "2"], 2, "--dropout"),
    (["train", "{empty}", "--out", "{out}", "--steps", "1", "--workers", "-1"], 2, "--workers"),
    (["train", "{empty}", "--out", "{out}", "--steps", "1", "--cache-gb", "-1"], 2, "--cache-gb"),
    (["train", "{empty}", "--out", "{out}", "--steps", "0"], 2, "--steps"),
    (["train", "{empty}", "--out", "{out}", "--steps", "1", "--lr", "0"], 2, "--lr"),
    (["render-synthetic", "--procedural", "1", "--out", "{out}", "--max-corr", "-5"], 2, "--max-corr"),
    (["render-synthetic", "--procedural", "1", "--out", "{out}", "--workers", "-1"], 2, "--workers"),
    (["render-synthetic", "--procedural", "1", "--out", "{out}", "--bank", "--grid", "-1"], 2, "--grid"),
    (["render-synthetic", "--procedural", "0", "--out", "{out}"], 2, "--procedural"),
    (["render-synthetic", "--procedural", "1", "--out", "{out}", "--resolution", "0"], 2, "--resolution"),
    (["match", "{photos}", "--out", "{out}", "--max-features", "-1"], 2, "--max-features"),
    (["match", "{photos}", "--out", "{out}", "--ratio", "1.5"], 2, "--ratio"),
    (["view", "{mesh}", "--out", "{out}/strip.png", "--size", "20000"], 2, "--size"),
    (["view", "{ply}", "--out", "{out}/strip.png", "--max-memory-gb", "0"], 2, "--max-memory-gb"),
    (["render-synthetic", "--procedural", "1", "--out", "{out}", "--max-memory-gb", "-1"], 2, "--max-memory-gb"),
    (["eval", "{empty}", "--baseline", "flat", "--out", "{out}", "--grid", "-1"], 2, "--grid"),
    (["--bogus", "lift"], 2, "--bogus"),
    # bad data or files: exit 1
    (["lift", "{img}", "--out", "{out}", "--checkpoint", "{pickle}"], 1, "pickled file"),
    (["lift", "{img}", "--out", "{out}", "--checkpoint", "{empty}"], 1, "without best.safetensors"),
    (["train", "--synth", "{empty}/missing.npz", "--out", "{out}", "--steps", "1"], 1, "not a readable shape bank"),
    (["train", "--synth", "{empty}/missing.npz", "--out", "{out}", "--synth-zoom", "2,1"], 2, "--synth-zoom"),
    # memory bounds by estimate (pointkit.memory): refused before anything is allocated
    (
        ["render-synthetic", "--procedural", "1", "--out", "{out}", "--views", "100000"],
        1,
        "raise the limit with --max-memory-gb",
    ),
    (
        ["render-synthetic", "--procedural", "1", "--out", "{out}", "--resolution", "100000"],
        1,
        "GB of memory by estimate",
    ),
    (
        [
            "render-synthetic",
            "--procedural",
            "1",
            "--out",
            "{out}",
            "--views",
            "64",
            "--max-corr",
            "0",
            "--workers",
            "8",
        ],
        1,
        "--max-corr 0 (all) --workers 8 is too big",
    ),
    (
        ["render-synthetic", "--procedural", "1", "--out", "{out}", "--max-memory-gb", "0.05"],
        1,
        "over the limit of 0.05 GB",
    ),
    (["view", "{ply}", "--out", "{out}/strip.png", "--views", "100000"], 1, "view --views 100000 --size 256"),
    (["view", "{ply}", "--out", "{out}/strip.png", "--size", "8192", "--max-memory-gb", "1"], 1, "--max-memory-gb"),
]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp("inputs")
    Image.fromarray(np.full((32, 32, 3), 128, np.uint8)).save(root / "img.png")
    torch.save({"w": torch.zeros(2)}, root / "model.pt")
    (root / "empty").mkdir()
    (root / "photos" / "obj").mkdir(parents=True)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(root / "photos" / "obj" / "a.png")
    np.savez(root / "depth.npz", depth=np.ones((8, 8), np.float32))
    trimesh.creation.icosphere(subdivisions=1).export(root / "ball.ply")
    return {
        "ply": root / "ball.ply",
        "img": root / "img.png",
        "pickle": root / "model.pt",
        "empty": root / "empty",
        "photos": root / "photos",
        "mesh": root / "depth.npz",
    }


@pytest.mark.parametrize("args,code,fragment", CASES, ids=[" ".join(c[0][:2]) + f" {c[2]}" for c in CASES])
def test_bad_input_fails_with_one_line_and_writes_nothing(inputs, tmp_path, args, code, fragment):
    out = tmp_path / "out"
    argv = [a.format(out=out, **inputs) for a in args]
    run = CliRunner().invoke(cli, argv)
    lines = run.stderr.strip().splitlines()
    assert run.exit_code == code, run.output
    assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in run.output, run.stderr
    assert not out.exists() or not any(out.rglob("*"))
    if args[0] == "lift":  # lift removes the --out folder it made when it wrote nothing
        assert not out.exists()


def test_checkpoint_may_be_a_run_folder(tmp_path):
    """A train run folder as --checkpoint lifts with its best.safetensors: the same depth as that
    file given directly, not the folder's last.safetensors' nor the shipped model's."""
    image = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(image)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    for seed, name in enumerate(("best", "last")):  # two different small networks
        torch.manual_seed(seed)
        LiftNet(LiftNetConfig(input_size=32, ngf=4)).save(run_dir / f"{name}.safetensors", {"step": seed})

    def depth(checkpoint) -> np.ndarray:
        out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
        args = ["-q", "lift", str(image), "--out", str(out), "--mask", "none"]
        run = CliRunner().invoke(cli, args + (["--checkpoint", str(checkpoint)] if checkpoint else []))
        assert run.exit_code == 0, run.output
        return np.load(out / "img_depth.npy")

    from_folder = depth(run_dir)
    assert np.array_equal(from_folder, depth(run_dir / "best.safetensors"))
    assert not np.allclose(from_folder, depth(run_dir / "last.safetensors"), atol=1e-3)
    if SHIPPED.is_file():
        assert not np.allclose(from_folder, depth(None), atol=1e-3)


def test_match_refuses_to_overwrite_another_kind_of_dataset(inputs, tmp_path):
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    manifest = '{"generator": "pointkit render-synthetic", "objects": {}}'
    (rendered / "manifest.json").write_text(manifest)
    run = CliRunner().invoke(cli, ["match", str(inputs["photos"]), "--out", str(rendered)])
    assert run.exit_code == 1 and "made by pointkit render-synthetic" in run.stderr, run.output
    assert (rendered / "manifest.json").read_text() == manifest and sorted(p.name for p in rendered.iterdir()) == [
        "manifest.json"
    ]


def test_global_flags_work_after_the_subcommand(inputs, tmp_path):
    if not SHIPPED.is_file():
        pytest.skip(f"the shipped model {SHIPPED} is absent")
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(inputs["img"], folder / name)
    loud = CliRunner().invoke(cli, ["lift", str(folder), "--out", str(tmp_path / "o1"), "--mask", "none"])
    quiet = CliRunner().invoke(cli, ["lift", str(folder), "--out", str(tmp_path / "o2"), "--mask", "none", "-q"])
    assert loud.exit_code == quiet.exit_code == 0
    assert "lift" in loud.stderr and quiet.stderr == ""  # the progress bar, then none
    debug = CliRunner().invoke(cli, ["lift", str(tmp_path / "missing.png"), "--out", str(tmp_path / "o3"), "--debug"])
    assert debug.exception is not None and type(debug.exception).__name__ == "PointkitError"
