"""``pointkit`` console script.

Commands are imported only when they run (``LazyGroup``), so ``pointkit --help`` never imports
torch. Exit codes: 0 success, 1 expected failure (one-line message), 2 usage error. A traceback is
shown only with ``--debug``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading

import click

# name -> (module:function, one-line help). Add a command here and in pointkit_cli/commands/.
COMMANDS: dict[str, tuple[str, str]] = {
    "plugins": ("pointkit_cli.commands.plugins:plugins", "List the plugins the entry-point registry finds."),
    "models": ("pointkit_cli.commands.models:models", "List the models --checkpoint NAME can name."),
    "render-synthetic": (
        "pointkit_cli.commands.render:render_synthetic",
        "Render training views with exact depth and correspondences.",
    ),
    "show": ("pointkit_cli.commands.render:show", "Contact sheet of a dataset object: RGB, depth, mask, matches."),
    "match": ("pointkit_cli.commands.match:match", "Correspondences from folders of real photos."),
    "train": ("pointkit_cli.commands.train:train", "Train LiftNet (correspondence or depth loss)."),
    "adapt": ("pointkit_cli.commands.adapt:adapt", "Fine-tune LiftNet on your own photos (match + train)."),
    "eval": ("pointkit_cli.commands.evaluate:evaluate", "Depth metrics of a checkpoint on a dataset split."),
    "lift": ("pointkit_cli.commands.lift:lift", "Image -> depth -> textured mesh."),
    "view": ("pointkit_cli.commands.view:view", "Turntable preview of a mesh or depth map."),
    "export": ("pointkit_cli.commands.export:export", "A checkpoint in another format (onnx)."),
}


class Terminated(KeyboardInterrupt):
    """SIGTERM (kill, docker stop, Slurm), raised in the main thread like Ctrl-C, so that every
    job's clean-up (atomic writes, lift's per-image sets, train's checkpoints) runs as for Ctrl-C."""


def _raise_terminated(signum, frame):
    raise Terminated()


class OneLineUsageError(click.UsageError):
    """A usage error shown as one line (what is wrong, and where the help is), exit code 2."""

    def __init__(self, error: click.UsageError):
        super().__init__(error.format_message(), error.ctx)

    def show(self, file=None) -> None:
        where = f"{self.ctx.command_path} -h" if self.ctx is not None else "pointkit -h"
        click.echo(f"Error: {self.format_message()} (see {where})", err=True, file=file)


def _root_obj(ctx) -> dict:
    root = ctx.find_root()
    root.ensure_object(dict)
    return root.obj


def _quiet(ctx, param, value):
    if value:
        _root_obj(ctx)["quiet"] = True
        logging.getLogger().setLevel(logging.ERROR)
        os.environ["TQDM_DISABLE"] = "1"


def _verbose(ctx, param, value):
    if value:
        logging.getLogger().setLevel(logging.DEBUG if value > 1 else logging.INFO)


def _debug(ctx, param, value):
    if value:
        _root_obj(ctx)["debug"] = True


def _with_global_flags(command: click.Command) -> click.Command:
    """Accept -q, -v and --debug after the sub-command too (``pointkit lift x.jpg -q``), once."""
    names = {p.name for p in command.params}
    flags = [
        (["-q", "--quiet"], dict(is_flag=True, callback=_quiet, help="As pointkit -q: only errors, no progress.")),
        (["-v", "--verbose"], dict(count=True, callback=_verbose, help="As pointkit -v: more log output.")),
        (["--debug"], dict(is_flag=True, callback=_debug, help="As pointkit --debug: full tracebacks.")),
    ]
    for decls, kwargs in flags:
        if decls[-1].lstrip("-") not in names:
            command.params.append(click.Option(decls, expose_value=False, **kwargs))
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_global_flags(sub)
    return command


def _log_handler() -> None:
    """pointkit's log lines on stderr ("pointkit: message"), installed once on the root logger."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("pointkit: %(message)s"))
        root.addHandler(handler)


def _close_progress_bars() -> None:
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.close()


class LazyGroup(click.Group):
    """A group whose sub-commands are imported on first use; missing modules are not listed."""

    def list_commands(self, ctx):
        lazy = [name for name, (target, _) in COMMANDS.items() if self._exists(target)]
        return lazy + sorted(set(super().list_commands(ctx)) - set(lazy))

    @staticmethod
    def _exists(target: str) -> bool:
        module = target.split(":")[0]
        return importlib.util.find_spec(module) is not None

    def get_command(self, ctx, name):
        if name not in COMMANDS or not self._exists(COMMANDS[name][0]):
            command = super().get_command(ctx, name)
        else:
            module, attr = COMMANDS[name][0].split(":")
            command = getattr(importlib.import_module(module), attr)
        return _with_global_flags(command) if command is not None else None

    def format_commands(self, ctx, formatter):
        rows = [
            (name, COMMANDS[name][1] if name in COMMANDS else self.commands[name].get_short_help_str())
            for name in self.list_commands(ctx)
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:  # a bad top-level option (pointkit --bogus)
            raise OneLineUsageError(exc) from None

    def invoke(self, ctx):
        from tqdm.contrib.logging import logging_redirect_tqdm

        _log_handler()
        try:
            try:
                with logging_redirect_tqdm():  # warnings go above progress bars, not onto their line
                    return super().invoke(ctx)
            except BaseException:
                _close_progress_bars()  # so that the error line starts a line of its own
                raise
        except click.UsageError as exc:  # a bad option value or a missing argument: exit 2, one line
            raise OneLineUsageError(exc) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except KeyboardInterrupt as exc:
            terminated = isinstance(exc, Terminated)
            click.echo(f"pointkit: {'terminated' if terminated else 'interrupted'}", err=True)
            sys.exit(143 if terminated else 130)
        except Exception as exc:  # map library errors to exit 1 with one line
            if ctx.obj and ctx.obj.get("debug"):
                raise
            from pointkit.errors import PointkitError, first_line

            message = first_line(exc)
            if not isinstance(exc, (PointkitError, OSError)):
                message = f"{type(exc).__name__}: {message} (rerun with --debug for the traceback)"
            raise click.ClickException(message) from None


def _version() -> str:
    from pointkit import __version__

    return __version__


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=_version(), prog_name="pointkit")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.option("-v", "--verbose", count=True, help="More log output (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors; no progress bars.")
@click.pass_context
def cli(ctx, debug, verbose, quiet):
    """pointkit: the 3D surface of an object from a single photograph.

    LiftNet learns depth from 2D point correspondences alone (Wiles & Zisserman,
    "3D Surface Reconstruction by Pointillism").
    """
    ctx.ensure_object(dict)
    ctx.obj.update(debug=debug, quiet=quiet)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
        ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous))
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    _log_handler()
    logging.getLogger().setLevel(level)
    if quiet:
        os.environ["TQDM_DISABLE"] = "1"


if __name__ == "__main__":
    cli()
