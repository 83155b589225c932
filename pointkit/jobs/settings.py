"""Job settings declared once: each field of a job's config dataclass carries its default, help
text, value type and flag, and everything else is made from that declaration:

* the command's Click options and arguments (:func:`click_options`), so a default, a range or a
  help line lives in one place;
* the check of a config built in Python (:func:`check`, from ``__post_init__``): the same Click
  types, so a bad value is the same one-line :class:`~pointkit.errors.PointkitError` however the
  job was started;
* the config from the command line (:func:`from_cli`), where settings the user did not give come
  from the saved config on ``--resume``;
* nested configs (``setting(help, default_factory=Cls, nested=True)``, e.g. ``TrainConfig.model``):
  their settings are options of the command as if declared on the outer config, and their values
  one dict in ``config.json``;
* ``<out>/config.json`` (:func:`save`, :func:`load_saved`).

Value types are Click's (``click.Choice``, ``click.IntRange``, ``click.Path`` ...): Click is a
core dependency, and its types already say what a value may be and why it is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from pointkit import registry
from pointkit.errors import PointkitError
from pointkit.io import write_json_atomic

CONFIG_FILE = "config.json"


@dataclass(frozen=True)
class Setting:
    """How one config field appears on the command line (see :func:`setting`)."""

    help: str
    type: Any = None
    flag: str | None = None
    metavar: str | None = None
    multiple: bool = False
    argument: bool = False
    cli: bool = True
    required: bool = False
    nested: bool = False

    def names(self, name: str) -> list[str]:
        """The option's names: ``flag`` split at spaces ("-r --recursive"), else ``--field-name``."""
        return self.flag.split() if self.flag else ["--" + name.replace("_", "-")]

    def name_on_cli(self, name: str) -> str:
        return next(n for n in self.names(name) if n.startswith("--")).split("/")[0]


def setting(
    default: Any = MISSING,
    help: str = "",
    *,
    type: Any = None,
    flag: str | None = None,
    metavar: str | None = None,
    multiple: bool = False,
    argument: bool = False,
    cli: bool = True,
    required: bool = False,
    default_factory: Any = MISSING,
    nested: bool = False,
):
    """A dataclass field that is also a command-line setting.

    Args:
        default: the one default (omit for a required setting; lists: pass a tuple, or None).
        default_factory: instead of ``default``, for a setting the command builds itself
            (``cli=False``) whose default is mutable (e.g. nested settings).
        help: the help line (``--help`` and the docs of the config).
        type: a Click parameter type (``click.Choice([...])``, ``click.IntRange(min=1)`` ...).
        flag: the option's name(s) when not ``--field-name``, space-separated ("-r --recursive");
            ``"--x/--no-x"`` for an on/off switch.
        multiple: repeatable option (a list value); with ``argument``: any number of arguments.
        argument: a positional argument instead of an option.
        cli: False for settings the command sets itself (e.g. ``progress`` from ``-q``).
        required: an argument that must be given (options are required when they have no default).
        nested: ``default_factory`` is a config class whose settings become this command's options
            (the field holds an instance of it; a dict of its fields is converted by the outer
            config's ``__post_init__``).
    """
    if nested and not is_dataclass(default_factory):
        raise TypeError("a nested setting names its config class as default_factory")
    meta = {"setting": Setting(help, type, flag, metavar, multiple, argument, cli, required, nested)}
    if isinstance(default, (list, dict)):
        raise TypeError("pass a tuple or None as a list setting's default")
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=meta)
    return field(metadata=meta) if default is MISSING else field(default=default, metadata=meta)


def progress_setting():
    """The ``progress`` field of every job that shows a bar: on stderr, off with the command's -q."""
    return setting(True, "Progress bar on stderr (the command: off with -q).", cli=False)


def device_setting(help: str = "Torch device (auto: cuda when available)."):
    """The ``device`` field of every job that runs torch: :class:`Device`'s rules and exit codes."""
    return setting("auto", help, type=Device())


def max_memory_setting(what: str):
    """The ``max_memory_gb`` field of every job that checks a memory estimate (``pointkit.memory``);
    the commands give it as ``--max-memory-gb`` (``pointkit_cli.memory_option``, environment
    ``POINTKIT_MAX_MEMORY_GB``). ``what``: what is refused ("an image")."""
    return setting(
        None,
        f"Refuse {what} whose memory estimate is over this many GB (default: "
        "pointkit.memory.default_limit_gb()); the command's --max-memory-gb.",
        type=click.FloatRange(min=0, min_open=True),
        cli=False,
    )


def _settings(cls) -> list[tuple[Any, Setting]]:
    return [(f, f.metadata["setting"]) for f in fields(cls) if "setting" in f.metadata]


def leaf_settings(cls) -> list[tuple[Any, Setting]]:
    """Every setting of ``cls`` with those of its nested configs in their place (what the command
    line shows)."""
    out = []
    for f, s in _settings(cls):
        out += leaf_settings(f.default_factory) if s.nested else [(f, s)]
    return out


def _param(f, s: Setting):
    if s.argument:
        return click.argument(f.name, nargs=-1 if s.multiple else 1, type=s.type, required=s.required)
    required = f.default is MISSING
    kwargs: dict[str, Any] = {"help": s.help, "metavar": s.metavar, "required": required}
    names = [*s.names(f.name), f.name]
    if isinstance(f.default, bool) and "/" not in names[-2]:
        kwargs["is_flag"] = True
    elif s.type is not None:
        kwargs["type"] = s.type
    if not required:
        kwargs["default"] = f.default if f.default is not None or not s.multiple else ()
        kwargs["show_default"] = f.default is not None and f.default is not False and not s.multiple
    kwargs["multiple"] = s.multiple
    return click.option(*names, **kwargs)


def click_options(cls, only: tuple[str, ...] | None = None):
    """Decorator: the Click options and arguments of every command-line setting of ``cls``
    (``only``: of these settings alone, for a job that nests some of another job's settings,
    as ``adapt`` does ``match``'s)."""

    def decorate(command):
        for f, s in reversed(_settings(cls)):
            if s.nested and s.cli:
                command = click_options(f.default_factory)(command)
            elif s.cli and (only is None or f.name in only):
                command = _param(f, s)(command)
        return command

    return decorate


def check(config) -> None:
    """Each setting's value against its Click type (ranges, choices, path kinds).

    Raises:
        PointkitError: one line, ``--flag value: what is wrong``.
    """
    for f, s in _settings(type(config)):
        value = getattr(config, f.name)
        if s.nested:
            check(value)
            continue
        if value is None or not isinstance(s.type, click.ParamType):
            continue
        items = value if (s.multiple or s.argument) and isinstance(value, (list, tuple)) else [value]
        for item in items:
            try:
                s.type.convert(item, None, None)
            except click.BadParameter as exc:
                raise PointkitError(f"{s.name_on_cli(f.name)} {item!r}: {exc.message}") from None


def from_cli(cls, ctx: click.Context, saved: dict[str, Any] | None = None, **fixed):
    """The config of ``cls`` from the command's parameters (``ctx.params``).

    ``fixed``: values the command sets itself. ``saved``: a saved config (``load_saved``); each
    setting the user did not give on the command line (nor in the environment) takes its value
    from it, so ``--resume`` needs only ``--out``.
    """
    values = {}
    for f, s in _settings(cls):
        if f.name in fixed:
            values[f.name] = fixed[f.name]
            continue
        if s.nested and s.cli:
            values[f.name] = from_cli(f.default_factory, ctx, saved.get(f.name, {}) if saved is not None else None)
            continue
        if f.name not in ctx.params:
            continue
        given = ctx.get_parameter_source(f.name) not in (ParameterSource.DEFAULT, None)
        if s.multiple and not ctx.params[f.name]:
            given = False  # nargs=-1 / multiple: an empty tuple is "not given"
        if saved is not None and not given and f.name in saved:
            values[f.name] = saved[f.name]
        elif s.multiple:
            values[f.name] = list(ctx.params[f.name]) or (None if f.default is None else [])
        else:
            values[f.name] = ctx.params[f.name]
    return cls(**values)


def save(config, out: str | Path, job: str) -> Path:
    """``<out>/config.json``: the job's name and its resolved config (atomic)."""
    path = Path(out) / CONFIG_FILE
    write_json_atomic(path, {"job": job, "config": asdict(config)})
    return path


def load_saved(out: str | Path, job: str) -> dict[str, Any] | None:
    """The config saved in ``<out>/config.json`` by ``job``, or None when there is none.

    Raises:
        PointkitError: the file is unreadable or was written by another job.
    """
    path = Path(out) / CONFIG_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        config = record["config"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise PointkitError(f"{path}: not a pointkit config file ({exc}); move it away or use another --out") from None
    if record.get("job") != job:
        raise PointkitError(f"{path} belongs to a '{record.get('job')}' job, not '{job}'; use another --out")
    return config


class FloatPair(click.ParamType):
    """``LOW,HIGH`` -> (low, high) floats with 0 < low <= high (a tuple passes through)."""

    name = "LOW,HIGH"

    def convert(self, value, param, ctx):
        try:
            low, high = (float(x) for x in (value.split(",") if isinstance(value, str) else value))
        except (TypeError, ValueError):
            self.fail("use LOW,HIGH, e.g. 1,1.5", param, ctx)
        if not 0 < low <= high:
            self.fail("use LOW,HIGH with 0 < LOW <= HIGH, e.g. 1,1.5", param, ctx)
        return (low, high)


class Registered(click.ParamType):
    """The name of a plugin registered in an entry-point group (``pointkit.registry``), checked
    without importing it; an unknown name fails with the names that are available."""

    name = "NAME"

    def __init__(self, group: str):
        self.group = group

    def convert(self, value, param, ctx):
        try:
            registry.require(self.group, value)
        except registry.PluginError as exc:
            self.fail(str(exc), param, ctx)
        return value


DEVICE_FORMS = "auto, cpu, cuda or cuda:N"


class Device(click.ParamType):
    """A torch device for a job: ``auto`` (cuda when available), ``cpu``, ``cuda`` or ``cuda:N``.
    Checked without importing torch, so a bad value is a usage error before any work; whether the
    GPU is there is decided when the job runs (:func:`pointkit.models.device.resolve_device`)."""

    name = "device"

    def get_metavar(self, *args, **kwargs) -> str:
        return "auto|cpu|cuda|cuda:N"

    def convert(self, value, param, ctx):
        text = str(value)
        if not re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", text):
            self.fail(f"{text!r} is not a device; use {DEVICE_FORMS}", param, ctx)
        return text


def check_device(device) -> str:
    """``device`` as text when it is one :class:`Device` accepts.

    Raises:
        PointkitError: one line, ``--device 'gpu': ... use auto, cpu, cuda or cuda:N``.
    """
    try:
        return Device().convert(device, None, None)
    except click.BadParameter as exc:
        raise PointkitError(f"--device {str(device)!r}: {exc.message}") from None
