"""render-synthetic and view: their options are made from RenderConfig's and ViewConfig's settings
(pointkit.jobs.settings); render-synthetic saves <out>/config.json, which dataset readers ignore and
--resume reads back."""

from __future__ import annotations

import json
from dataclasses import MISSING, fields

import pytest
import trimesh
from click.testing import CliRunner

from pointkit.data.format import Dataset
from pointkit.errors import PointkitError
from pointkit.render.config import RenderConfig
from pointkit.render.dataset import build_dataset
from pointkit.view import ViewConfig, view
from pointkit_cli.main import cli

SMALL = ["--procedural", "2", "--views", "2", "--resolution", "32", "--max-corr", "10"]


@pytest.mark.parametrize("config,command", [(RenderConfig, "render"), (ViewConfig, "view")])
def test_options_are_the_configs_settings(config, command):
    import importlib

    module = importlib.import_module(f"pointkit_cli.commands.{command}")
    cmd = module.render_synthetic if command == "render" else module.view
    options = {p.name: p for p in cmd.params}
    for f in fields(config):
        s = f.metadata["setting"]
        if not s.cli:
            # --max-memory-gb: memory_option (shared with lift); view's PATH: a plain argument
            assert (
                f.name not in options or f.name == "max_memory_gb" or options[f.name].param_type_name == "argument"
            ), f.name
            continue
        assert options[f.name].help == (None if s.argument else s.help), f.name
        if f.default is MISSING and not s.argument:
            assert options[f.name].required, f.name
        elif not s.argument and not s.multiple:
            assert options[f.name].default == f.default, f.name
    assert (
        "--option" in options["renderer_options"].opts
        if command == "render"
        else "--interactive" in options["show"].opts
    )


def test_render_defaults_are_the_librarys():
    from pointkit.engine.bank import DEFAULT_GRID
    from pointkit.render.mesh import UP_AXES
    from pointkit.render.presets import PRESETS

    f = {f.name: f for f in fields(RenderConfig)}
    assert f["grid"].default == DEFAULT_GRID
    assert list(f["preset"].metadata["setting"].type.choices) == list(PRESETS)
    assert list(f["up"].metadata["setting"].type.choices) == list(UP_AXES)


@pytest.mark.parametrize(
    "settings,message",
    [
        (dict(resolution=8), r"^--resolution 8: 8 is not in the range x>=16\.$"),
        (dict(preset="paper"), "--preset 'paper'"),
        (dict(views=1), "--views 1"),
        (dict(max_corr=-2), "--max-corr -2"),
        (dict(workers=0), "--workers 0"),
        (dict(shard="2/2"), r"--shard '2/2': need 0 <= i < n"),
        (dict(shard="half"), "use i/n"),
        (dict(families="blob,gargoyle"), "--families: unknown sculpture family 'gargoyle'"),
        (dict(renderer_options=["samples"]), "--option 'samples': 'samples': use KEY=VALUE"),
        (dict(max_memory_gb=0), "--max-memory-gb 0"),
    ],
)
def test_a_bad_render_setting_is_one_line_before_any_work(tmp_path, settings, message):
    with pytest.raises(PointkitError, match=message) as info:
        build_dataset(tmp_path / "ds", procedural=2, progress=False, **settings)
    assert "\n" not in str(info.value) and not (tmp_path / "ds").exists()


def test_render_config_normalises_what_the_command_line_and_python_give():
    a = RenderConfig(
        out="o",
        procedural=1,
        shard="1/4",
        families="blob, vase",
        renderer_options=[("samples", 32), "material=marble", "denoise=true"],
    )
    b = RenderConfig(
        out="o",
        procedural=1,
        shard=[1, 4],
        families=["blob", "vase"],
        renderer_options={"samples": 32, "material": "marble", "denoise": True},
    )
    assert a == b and a.shard == (1, 4) and a.renderer_options["denoise"] is True
    assert RenderConfig(out="o", max_corr=-1).max_corr_kept == 0 and RenderConfig(out="o").renderer_options == {}


def test_render_saves_config_json_that_readers_ignore_and_resume_reads(tmp_path):
    out = tmp_path / "ds"
    run = CliRunner().invoke(
        cli, ["-q", "render-synthetic", *SMALL, "--seed", "3", "--option", "texture=0.2", "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["job"] == "render-synthetic"
    assert (saved["config"]["seed"], saved["config"]["renderer_options"], saved["config"]["procedural"]) == (
        3,
        {"texture": 0.2},
        2,
    )
    ds = Dataset.open(out)
    assert len(ds.objects) == 2 and ds.manifest["renderer_options"] == {"texture": 0.2}
    # --resume: only --out (and what changes: --procedural may grow); the rest from config.json.
    run = CliRunner().invoke(cli, ["-q", "render-synthetic", "--out", str(out), "--resume", "--procedural", "3"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    assert (summary["skipped"], summary["rendered"]) == (2, 1)
    assert json.loads((out / "config.json").read_text())["config"]["procedural"] == 3
    # Other settings on the same folder are still refused, before config.json is touched.
    before = (out / "config.json").read_text()
    run = CliRunner().invoke(cli, ["-q", "render-synthetic", *SMALL, "--seed", "4", "--out", str(out)])
    assert (
        run.exit_code == 1
        and "other settings" in run.stderr
        and "seed" in run.stderr
        and (out / "config.json").read_text() == before
    )


def test_resume_needs_a_config_json(tmp_path):
    build_dataset(tmp_path / "old", procedural=1, views=2, resolution=32, max_corr=10, progress=False)
    (tmp_path / "old" / "config.json").unlink()  # a dataset made before there was one
    run = CliRunner().invoke(cli, ["-q", "render-synthetic", "--out", str(tmp_path / "old"), "--resume"])
    assert run.exit_code == 1 and "no config.json to resume from" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text(json.dumps({"job": "train", "config": {}}))
    run = CliRunner().invoke(cli, ["-q", "render-synthetic", "--out", str(tmp_path / "other"), "--resume"])
    assert run.exit_code == 1 and "belongs to a 'train' job" in run.stderr


def test_shards_write_one_config_json_without_their_shard(tmp_path):
    for i in range(2):
        build_dataset(
            tmp_path / "ds", procedural=3, views=2, resolution=32, max_corr=10, shard=f"{i}/2", progress=False
        )
    assert json.loads((tmp_path / "ds" / "config.json").read_text())["config"]["shard"] is None
    assert len(Dataset.open(tmp_path / "ds").objects) == 3


def test_bad_option_syntax_is_a_usage_error(tmp_path):
    run = CliRunner().invoke(
        cli, ["render-synthetic", "--procedural", "1", "--out", str(tmp_path / "o"), "--option", "samples"]
    )
    assert run.exit_code == 2 and "KEY=VALUE" in run.stderr and not (tmp_path / "o").exists()


def test_view_config(tmp_path):
    trimesh.creation.box().export(tmp_path / "box.ply")
    with pytest.raises(PointkitError, match=r"^--size 8: 8 is not in the range 16<=x<=8192\.$"):
        ViewConfig(path=tmp_path / "box.ply", out=tmp_path / "a.png", size=8)
    with pytest.raises(PointkitError, match="--views 0"):
        view(tmp_path / "box.ply", tmp_path / "a.png", views=0)
    summary = view(ViewConfig(path=tmp_path / "box.ply", out=tmp_path / "a.png", views=2, size=16))
    assert summary["out"] == str(tmp_path / "a.png") and summary["views"] == 2
    assert not (tmp_path / "config.json").exists()  # one image: no config.json
    run = CliRunner().invoke(cli, ["view", "--out", str(tmp_path / "b.png")])
    assert run.exit_code == 2 and "PATH" in run.stderr
