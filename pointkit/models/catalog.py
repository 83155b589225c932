"""Models by name: the shipped default and the checkpoints in the user's model folder.

``pointkit models`` lists them; ``--checkpoint NAME`` (lift, eval, ``train --init``) and
``pointkit.models.load`` accept a name wherever a checkpoint path is taken. Names:

* ``default``: the LiftNet shipped in the package (``pointkit/assets/liftnet-default.safetensors``);
* every ``*.safetensors`` file in the model folder (name: the file stem), and every ``pointkit
  train`` run folder there (name: the folder name; its ``best.safetensors``).

The model folder is ``$POINTKIT_HOME/models``; ``POINTKIT_HOME`` defaults to
``$XDG_DATA_HOME/pointkit`` (``~/.local/share/pointkit``). Loading stays safetensors-only.

This module only turns names into files and imports neither torch nor the networks:
:mod:`pointkit.models.liftnet` imports it (``load_checkpoint`` resolves names through
:func:`checkpoint_file`), never the other way round.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pointkit.errors import PointkitError

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "assets" / "liftnet-default.safetensors"
HOME_VAR = "POINTKIT_HOME"


@dataclass(frozen=True)
class ModelEntry:
    """One named model: ``name``, the checkpoint ``path`` and where it comes from (``source``:
    "shipped" or "user")."""

    name: str
    path: Path
    source: str


def model_home() -> Path:
    """The user's model folder: ``$POINTKIT_HOME/models`` (default ``~/.local/share/pointkit/models``)."""
    home = (
        os.environ.get(HOME_VAR)
        or Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "pointkit"
    )
    return Path(home).expanduser() / "models"


def available() -> list[ModelEntry]:
    """Every named model, the shipped one first, then the model folder's sorted by name."""
    entries = [ModelEntry("default", DEFAULT_MODEL, "shipped")] if DEFAULT_MODEL.is_file() else []
    folder = model_home()
    if folder.is_dir():
        for item in sorted(folder.iterdir()):
            if item.is_file() and item.suffix == ".safetensors" and item.stem != "default":
                entries.append(ModelEntry(item.stem, item, "user"))
            elif item.is_dir() and (item / "best.safetensors").is_file() and item.name != "default":
                entries.append(ModelEntry(item.name, item / "best.safetensors", "user"))
    return entries


def looks_like_name(text: str | Path) -> bool:
    """A bare word (no folder, no suffix) that is not an existing path: a model name."""
    text = str(text)
    return bool(text) and not Path(text).exists() and os.sep not in text and "/" not in text and "." not in text


def resolve(name: str) -> Path:
    """The checkpoint file of the model called ``name``.

    Raises:
        PointkitError: no model of that name (the message lists the names there are).
    """
    for entry in available():
        if entry.name == name:
            return entry.path
    names = ", ".join(e.name for e in available()) or "none"
    raise PointkitError(
        f"no model named {name!r} (available: {names}; user models go in {model_home()}); "
        "give a checkpoint path or a name from `pointkit models`"
    )


def checkpoint_file(path: str | Path) -> Path:
    """The checkpoint file ``path`` names: itself, a ``pointkit train`` run folder's
    best.safetensors, or a model's by name (``pointkit.models.catalog``: "default", the user's).

    Raises:
        PointkitError: no such file or model, or a folder without best.safetensors.
    """
    if looks_like_name(path):
        return resolve(str(path))
    path = Path(path)
    if path.is_dir():
        if not (path / "best.safetensors").is_file():
            raise PointkitError(
                f"{path}: a folder without best.safetensors; give a checkpoint file or a pointkit train run folder"
            )
        return path / "best.safetensors"
    if not path.is_file():
        raise PointkitError(f"{path}: checkpoint not found")
    return path
