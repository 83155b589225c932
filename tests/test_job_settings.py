"""pointkit.jobs.settings: a job's settings declared once make its Click options, its checks and
its config.json; --resume takes the settings not given from the saved config."""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, fields

import click
import pytest
from click.testing import CliRunner

from pointkit.errors import PointkitError
from pointkit.jobs.settings import FloatPair, check, click_options, from_cli, load_saved, save, setting


@dataclass
class Job:
    inputs: list[str] = setting(help="Input folders.", argument=True, multiple=True)
    out: str = setting(help="Output folder.", type=click.Path(file_okay=False))
    size: int = setting(64, "Image side.", type=click.IntRange(min=8))
    mode: str = setting("fast", "How.", type=click.Choice(["fast", "slow"]))
    flip: bool = setting(True, "Flip too.", flag="--flip/--no-flip")
    resume: bool = setting(False, "Continue.")
    extra: list[str] | None = setting(None, "Repeatable.", multiple=True)
    zoom: tuple[float, float] = setting((1.0, 1.0), "Zoom range.", type=FloatPair())
    progress: bool = setting(True, "Bars.", cli=False)

    def __post_init__(self):
        check(self)


def _command(seen: list):
    @click.command()
    @click_options(Job)
    @click.pass_context
    def job(ctx, **_):
        saved = load_saved(ctx.params["out"], "job") if ctx.params["resume"] else None
        config = from_cli(Job, ctx, saved, progress=False)
        save(config, ctx.params["out"], "job")
        seen.append(config)

    return job


def test_options_defaults_and_help_come_from_the_dataclass():
    help_text = CliRunner().invoke(_command([]), ["--help"]).output
    for f in fields(Job):
        if f.name not in ("inputs", "progress"):
            assert f.metadata["setting"].help in " ".join(help_text.split()), f.name
    assert "[default: 64; x>=8]" in help_text and "--flip / --no-flip" in help_text and "--progress" not in help_text
    assert "--out DIRECTORY" in help_text and "[required]" in help_text


def test_values_from_the_command_line_and_their_usage_errors(tmp_path):
    seen: list[Job] = []
    run = CliRunner().invoke(
        _command(seen),
        [
            "a",
            "b",
            "--out",
            str(tmp_path / "o"),
            "--size",
            "32",
            "--no-flip",
            "--extra",
            "x",
            "--extra",
            "y",
            "--zoom",
            "1,1.5",
        ],
    )
    assert run.exit_code == 0, run.output
    assert seen[-1] == Job(["a", "b"], str(tmp_path / "o"), 32, "fast", False, False, ["x", "y"], (1.0, 1.5), False)
    run = CliRunner().invoke(_command(seen), ["--out", str(tmp_path / "o"), "--size", "4"])
    assert run.exit_code == 2 and "--size" in run.output
    run = CliRunner().invoke(_command(seen), ["--out", str(tmp_path / "o"), "--zoom", "2,1"])
    assert run.exit_code == 2 and "0 < LOW <= HIGH" in run.output


def test_a_config_built_in_python_is_checked_by_the_same_types():
    with pytest.raises(PointkitError, match=r"^--size 4: 4 is not in the range x>=8\.$"):
        Job([], "o", size=4)
    with pytest.raises(PointkitError, match="--mode 'medium'"):
        Job([], "o", mode="medium")
    with pytest.raises(PointkitError, match="--zoom"):
        Job([], "o", zoom=(3.0, 1.0))


def test_resume_takes_what_was_not_given_from_config_json(tmp_path):
    seen: list[Job] = []
    out = str(tmp_path / "o")
    assert CliRunner().invoke(_command(seen), ["a", "--out", out, "--size", "32", "--mode", "slow"]).exit_code == 0
    assert json.loads((tmp_path / "o" / "config.json").read_text())["config"]["size"] == 32
    run = CliRunner().invoke(_command(seen), ["--out", out, "--resume", "--size", "16"])
    assert run.exit_code == 0, run.output
    assert (seen[-1].inputs, seen[-1].mode, seen[-1].size, seen[-1].resume) == (["a"], "slow", 16, True)
    (tmp_path / "o" / "config.json").write_text(json.dumps({"job": "other", "config": {}}))
    with pytest.raises(PointkitError, match="belongs to a 'other' job"):
        load_saved(out, "job")
    (tmp_path / "o" / "config.json").write_text("{not json")
    with pytest.raises(PointkitError, match="not a pointkit config file"):
        load_saved(out, "job")
    assert load_saved(tmp_path / "new", "job") is None


def test_train_options_are_train_configs_settings():
    from pointkit.training.config import TrainConfig
    from pointkit_cli.commands.train import train

    from pointkit.jobs.settings import leaf_settings

    options = {p.name: p for p in train.params}
    assert {"input_size", "ngf", "mask_head", "dropout", "prior"} <= set(options)  # TrainConfig.model's, nested
    for f, s in leaf_settings(TrainConfig):
        if not s.cli:
            assert f.name not in options
            continue
        assert options[f.name].help == (None if s.argument else s.help)
        if f.default is MISSING and not s.argument:  # DATASET... may be empty (--synth, --resume)
            assert options[f.name].required, f.name
        elif not s.argument and not s.multiple and f.default is not None:
            assert options[f.name].default == f.default, f.name


@pytest.mark.parametrize("job", ["match", "eval"])
def test_match_and_eval_options_are_their_configs_settings(job):
    from pointkit.evaluate import EvalConfig
    from pointkit.match.settings import MatchJob
    from pointkit_cli.commands.evaluate import evaluate
    from pointkit_cli.commands.match import match

    cls, command = {"match": (MatchJob, match), "eval": (EvalConfig, evaluate)}[job]
    options = {p.name: p for p in command.params}
    for f in fields(cls):
        s = f.metadata["setting"]
        if not s.cli:
            assert f.name not in options or isinstance(options[f.name], click.Argument), f.name
            continue
        assert options[f.name].help == s.help and options[f.name].required == (f.default is MISSING), f.name
        if f.default is not MISSING:
            assert options[f.name].default == f.default, f.name


@pytest.mark.parametrize("command", ["lift", "train", "eval", "adapt"])
def test_every_command_takes_the_same_device_values(command, tmp_path):
    """One --device type (auto, cpu, cuda, cuda:N) for every job: a bad value is the same usage
    error (exit 2) before any work, and cuda:N is accepted by the parser."""
    from pointkit_cli.main import cli

    args = [command, str(tmp_path / "input"), "--out", str(tmp_path / "out")]
    bad = CliRunner().invoke(cli, [*args, "--device", "gpu"])
    assert bad.exit_code == 2, bad.output
    assert "Invalid value for '--device': 'gpu' is not a device; use auto, cpu, cuda or cuda:N" in bad.stderr
    assert not (tmp_path / "out").exists()
    parsed = cli.get_command(click.Context(cli), command).make_context(command, [*args[1:], "--device", "cuda:0"])
    assert parsed.params["device"] == "cuda:0"


def test_a_bad_device_from_python_is_the_same_one_line_error():
    from pointkit.lifting.model import torch_device

    for name in ("gpu", "cuda:x", "cuda:"):
        with pytest.raises(PointkitError, match=rf"^--device '{name}': .* use auto, cpu, cuda or cuda:N$"):
            torch_device(name)
    assert torch_device("cpu") == "cpu"


def test_cuda_without_a_gpu_is_one_line_and_the_library_defaults_agree():
    import inspect

    import torch

    from pointkit.lifting.config import LiftConfig
    from pointkit.lifting.pipeline import lift, lift_batch
    from pointkit.models.device import resolve_device

    assert {inspect.signature(f).parameters["device"].default for f in (lift, lift_batch, LiftConfig)} == {"auto"}
    assert resolve_device("cpu") == torch.device("cpu")
    beyond = f"cuda:{torch.cuda.device_count()}"  # one past the last GPU (cuda:0 without one)
    with pytest.raises(PointkitError, match=rf"^--device {beyond}: no CUDA GPU"):
        resolve_device(beyond)


def test_adapt_options_are_adapt_configs_and_its_defaults_are_the_configs(tmp_path, monkeypatch):
    """adapt's options come from AdaptConfig (and match's MatchSettings for --masks, --max-size),
    so `pointkit adapt PHOTOS --out OUT` runs exactly AdaptConfig(PHOTOS, OUT): no default of its
    own to drift from the library's."""
    import pointkit.adapt
    from pointkit.adapt import MATCH_OPTIONS, AdaptConfig
    from pointkit.match.settings import MatchSettings
    from pointkit_cli.main import cli

    command = cli.get_command(click.Context(cli), "adapt")
    options = {p.name: p for p in command.params}
    for cls, names in ((AdaptConfig, None), (MatchSettings, MATCH_OPTIONS)):
        for f in fields(cls):
            s = f.metadata["setting"]
            if not s.cli or (names is not None and f.name not in names):
                assert names is not None or f.name not in options, f.name
                continue
            assert options[f.name].help == (None if s.argument else s.help), f.name
            if f.default is not MISSING:
                assert options[f.name].default == f.default, f.name
    seen = []
    monkeypatch.setattr(pointkit.adapt, "adapt", lambda cfg, progress: seen.append(cfg) or {})
    run = CliRunner().invoke(cli, ["-q", "adapt", str(tmp_path / "photos"), "--out", str(tmp_path / "out")])
    assert run.exit_code == 0, run.output
    assert seen == [AdaptConfig(photos=str(tmp_path / "photos"), out=str(tmp_path / "out"))]
    given = ["--masks", "auto", "--max-size", "320", "--seed", "3", "--device", "cpu"]
    run = CliRunner().invoke(cli, ["-q", "adapt", str(tmp_path / "photos"), "--out", str(tmp_path / "out"), *given])
    assert run.exit_code == 0, run.output
    assert seen[-1].match == MatchSettings(masks="auto", max_size=320, seed=3) and seen[-1].seed == 3
    with pytest.raises(PointkitError, match="^--holdout 1.5: "):
        AdaptConfig(photos="p", out="o", holdout=1.5)
