"""Plugin registry and the CLI's contract: fast --help, version, exit codes."""

import json
import subprocess
import sys
import warnings
from importlib.metadata import EntryPoint

import pytest
from click.testing import CliRunner

import pointkit
from pointkit import registry
from pointkit_cli.main import cli


def test_every_registered_entry_point_loads():
    for group in registry.GROUPS:
        for name in registry.available(group):
            assert registry.load(group, name) is not None


def test_builtins_are_registered_like_plugins():
    from pointkit.match.features import SiftMatcher
    from pointkit.meshing import GLB, Exporter
    from pointkit.models import LiftNet

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
    from pointkit.errors import PointkitError

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
