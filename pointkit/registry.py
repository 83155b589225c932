"""Plugin lookup over importlib entry points.

Groups, and what an entry point of each names (docs/core.md, "Plugins"):

* ``pointkit.renderers``: a renderer class (``pointkit.render.Renderer``), used by ``render-synthetic --renderer``;
* ``pointkit.matchers``: a matcher class built with the job's ``MatchSettings``
  (``pointkit.match.features.SiftMatcher``), used by ``match --matcher``;
* ``pointkit.exporters``: a ``pointkit.meshing.Exporter`` (file suffix + write function), used by ``lift --format``;
* ``pointkit.models``: a network class with ``from_config(dict)``, built by ``load_checkpoint`` for
  the architecture a checkpoint names.

Built-ins are declared in the root ``pyproject.toml`` the same way third-party plugins are, so
there is one code path. A plugin whose import fails is reported with a warning naming it and is
otherwise ignored; it never crashes the caller.
"""

from __future__ import annotations

import warnings
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from pointkit.errors import PointkitError

GROUPS = ("pointkit.renderers", "pointkit.matchers", "pointkit.exporters", "pointkit.models")


class PluginError(PointkitError, LookupError):
    """A named plugin is not registered or failed to load (one line, like every PointkitError)."""


def _entry_points(group: str) -> dict[str, EntryPoint]:
    # Sorted and de-duplicated by name: with editable installs an entry point can appear twice.
    found: dict[str, EntryPoint] = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        found.setdefault(ep.name, ep)
    return found


def available(group: str) -> list[str]:
    """Names registered under ``group`` (without importing them)."""
    return list(_entry_points(group))


def describe(group: str) -> list[dict[str, str]]:
    """One dict per plugin: name, target (module:attr) and distribution, without importing it."""
    rows = []
    for name, ep in _entry_points(group).items():
        dist = getattr(ep, "dist", None)
        rows.append({"name": name, "target": ep.value, "distribution": f"{dist.name} {dist.version}" if dist else "?"})
    return rows


def require(group: str, name: str) -> EntryPoint:
    """The entry point registered as ``name`` in ``group``, without importing it.

    Raises:
        PluginError: ``name`` is not registered (the message lists what is available).
    """
    eps = _entry_points(group)
    if name not in eps:
        choices = ", ".join(eps) or "none"
        raise PluginError(f"no {group} plugin named {name!r} (available: {choices})")
    return eps[name]


def load(group: str, name: str) -> Any:
    """Import and return the object registered as ``name`` in ``group``.

    Raises:
        PluginError: ``name`` is not registered, or importing it failed (the message says which
            and lists what is available).
    """
    ep = require(group, name)
    try:
        return ep.load()
    except Exception as exc:  # a broken plugin must not take the caller down with a traceback
        raise PluginError(f"plugin {name!r} ({ep.value}) failed to load: {exc}") from exc


def load_all(group: str) -> dict[str, Any]:
    """Load every plugin of ``group``; a broken one is skipped with a warning naming it."""
    loaded = {}
    for name in _entry_points(group):
        try:
            loaded[name] = load(group, name)
        except PluginError as exc:
            warnings.warn(str(exc), RuntimeWarning, stacklevel=2)
    return loaded
