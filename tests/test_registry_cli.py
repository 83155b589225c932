"""Plugin registry and the CLI's contract: fast --help, version, exit codes."""

import importlib
import importlib.util
import json
import subprocess
import sys
import tomllib
import warnings
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from click.testing import CliRunner
from torch import nn

import pointkit
from pointkit import registry
from pointkit.errors import PointkitError
from pointkit.match.features import SiftMatcher
from pointkit.meshing import GLB, Exporter
from pointkit.models import LiftNet
from pointkit_cli.main import cli

REPO = Path(__file__).resolve().parents[1]


def _declared_entry_points() -> dict[str, dict[str, str]]:
    """``{group: {name: "module:attr"}}`` as this repository declares them: the root pyproject.toml
    (the built-ins) and each plugins/*/pyproject.toml whose package is installed here."""
    declared: dict[str, dict[str, str]] = {}
    for toml in [REPO / "pyproject.toml", *sorted((REPO / "plugins").glob("*/pyproject.toml"))]:
        with open(toml, "rb") as f:
            groups = tomllib.load(f)["project"].get("entry-points", {})
        for group, eps in groups.items():
            for name, target in eps.items():
                if toml.parent == REPO or importlib.util.find_spec(target.split(".")[0].split(":")[0]):
                    declared.setdefault(group, {})[name] = target
    return declared


def _kind_problem(group: str, obj) -> str | None:
    """What makes ``obj`` not the kind of object ``group``'s entry points name (pointkit.registry), or None."""
    if group == "pointkit.exporters":
        ok = isinstance(obj, Exporter) and isinstance(obj.suffix, str) and callable(obj.write)
        return None if ok else "not a pointkit.meshing.Exporter"
    if not isinstance(obj, type):
        return "not a class"
    methods = {
        "pointkit.renderers": ("render",),
        "pointkit.matchers": ("detect", "match"),
        "pointkit.models": ("from_config", "forward"),
    }[group]
    missing = [m for m in methods if not callable(getattr(obj, m, None))]
    if group == "pointkit.models" and not issubclass(obj, nn.Module):
        missing.append("an nn.Module base")
    if group == "pointkit.renderers" and not isinstance(getattr(obj, "name", None), str):
        missing.append("name")
    return f"lacks {', '.join(missing)}" if missing else None


def test_every_registered_entry_point_loads():
    """Every registered entry point loads into the kind of object its group needs; every one this
    repository declares is registered, under its own name, and loads into exactly its target."""
    declared = _declared_entry_points()
    assert set(declared) == set(registry.GROUPS)  # the root pyproject.toml has built-ins in every group
    for group in registry.GROUPS:
        registered = registry.available(group)
        assert set(declared[group]) <= set(registered), (group, registered)
        for name in registered:
            obj = registry.load(group, name)
            assert _kind_problem(group, obj) is None, f"{group} {name}: {_kind_problem(group, obj)}"
            if name in declared[group]:
                module, attr = declared[group][name].split(":")
                assert obj is getattr(importlib.import_module(module), attr), (group, name)
                if group == "pointkit.renderers":
                    assert obj.name == name  # what its views and errors call it
                if group == "pointkit.exporters":
                    assert name in obj.suffix  # lift --format glb writes .glb, points writes _points.ply


def test_builtins_are_registered_like_plugins():
    assert registry.load("pointkit.models", "liftnet") is LiftNet
    assert registry.load("pointkit.matchers", "sift") is SiftMatcher
    assert registry.load("pointkit.exporters", "glb") is GLB
    exporters = {name: registry.load("pointkit.exporters", name) for name in ("glb", "npz", "obj", "ply", "points")}
    assert all(isinstance(e, Exporter) for e in exporters.values())
    assert exporters["points"].suffix == "_points.ply" and exporters["npz"].suffix == ".npz"


def test_unknown_plugin_names_the_choices():
    with pytest.raises(registry.PluginError, match="available: liftnet"):
        registry.load("pointkit.models", "nope")


def test_broken_plugin_is_a_warning_naming_it(monkeypatch):
    broken = EntryPoint(name="broken", value="pointkit_no_such_module:thing", group="pointkit.models")
    real = registry._entry_points

    def with_broken(group):
        eps = dict(real(group))
        if group == "pointkit.models":
            eps["broken"] = broken
        return eps

    monkeypatch.setattr(registry, "_entry_points", with_broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = registry.load_all("pointkit.models")
    assert "liftnet" in loaded and "broken" not in loaded
    assert any("broken" in str(w.message) for w in caught)


def test_version_and_exit_codes():
    runner = CliRunner()
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0 and pointkit.__version__ in result.output
    assert runner.invoke(cli, ["--no-such-option"]).exit_code == 2
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2
    result = runner.invoke(cli, ["plugins", "--json"])
    assert result.exit_code == 0
    assert "liftnet" in [p["name"] for p in json.loads(result.output)["pointkit.models"]]


@pytest.fixture
def command_raising():
    """Registers a temporary CLI command that raises the given exception; removed afterwards."""
    names = []

    def register(exc: Exception) -> str:
        name = f"raise-for-test-{len(names)}"
        names.append(name)

        @cli.command(name)
        def _raise():
            raise exc

        return name

    yield register
    for name in names:
        cli.commands.pop(name, None)


def test_library_error_is_one_line_exit_1(command_raising):
    result = CliRunner().invoke(cli, [command_raising(PointkitError("bad input: do this instead"))])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: bad input: do this instead"


def test_unexpected_error_is_one_line_unless_debug(command_raising):
    name = command_raising(ZeroDivisionError("division by zero"))
    plain = CliRunner().invoke(cli, [name])
    debug = CliRunner().invoke(cli, ["--debug", name])
    assert plain.exit_code == 1 and len(plain.output.strip().splitlines()) == 1
    assert "ZeroDivisionError" in plain.output and "--debug" in plain.output
    assert isinstance(debug.exception, ZeroDivisionError)


def test_help_imports_no_torch():
    # --help must not pay for torch; checked by what it imports, not by a timed assertion.
    code = (
        "import sys; from pointkit_cli.main import cli; sys.argv=['pointkit','--help']\n"
        "try:\n    cli()\nexcept SystemExit:\n    pass\nassert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
