"""The settings of ``pointkit match`` (``MatchSettings``) and of a whole match job (``MatchJob``)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import click

from pointkit import registry
from pointkit.jobs.settings import Registered, setting
from pointkit.jobs.settings import check as check_settings


@dataclass
class MatchSettings:
    """Options of ``pointkit match`` (saved in the manifest under "settings"). The command's
    options are made from these fields (:mod:`pointkit.jobs.settings`): a default, a range and a
    help line live here only, and a value out of range is a one-line PointkitError.

    Pixel thresholds are in the frame the features were detected in (after ``max_size``).
    """

    resolution: int = setting(
        256, "Stored images are letterboxed to RESOLUTION x RESOLUTION.", type=click.IntRange(min=16)
    )
    masks: str = setting(
        "none",
        "Object masks: a folder of user masks (same stem as the photo), auto (GrabCut), or none.",
        metavar="DIR|auto|none",
    )
    matcher: str = setting(
        "sift",
        "Features and matching: a pointkit.matchers plugin (built in: sift; `pointkit plugins` lists them).",
        type=Registered("pointkit.matchers"),
        metavar="NAME",
    )
    # Looser features / contrast / ratio keep 2-3x the pairs with none wrong, but adapt's depth got
    # worse with them on the temple and the fountain: the defaults stay (docs/matching.md).
    features: str = setting(
        "sift",
        "The sift matcher's descriptors (OpenCV SIFT; rootsift = Hellinger-normalised SIFT).",
        type=click.Choice(["sift", "rootsift"]),
    )
    contrast: float = setting(
        0.04,
        "SIFT's contrast threshold (OpenCV's 0.04): lower finds keypoints on smooth, dim surfaces.",
        type=click.FloatRange(min=0, min_open=True),
    )
    max_size: int = setting(
        1024,
        "Downscale photos so the longer side is at most PX before detecting features.",
        type=click.IntRange(min=64),
        metavar="PX",
    )
    max_features: int = setting(4000, "Keypoints per image (0 = all).", type=click.IntRange(min=0))
    ratio: float = setting(0.8, "Lowe's ratio test.", type=click.FloatRange(0, 1, min_open=True))
    threshold: float = setting(
        1.0, "Affine-F inlier threshold, px in the --max-size frame.", type=click.FloatRange(min=0, min_open=True)
    )
    min_matches: int = setting(20, "Putative matches a pair needs.", type=click.IntRange(min=4))
    min_inliers: int = setting(
        15, "Affine-F inliers a kept pair needs (RANSAC needs 4 + 1).", type=click.IntRange(min=5)
    )
    seed: int = setting(0, "RANSAC seed.", type=int)
    workers: int = setting(1, "Threads for features and pairs.", type=click.IntRange(min=1), metavar="W")

    def __post_init__(self):
        self.check()

    def check(self) -> None:
        """Every setting against its type (ranges, choices, a registered matcher).

        Raises:
            PointkitError: one line, ``--flag value: what is wrong``.
        """
        check_settings(self)

    def load_matcher(self):
        """The ``pointkit.matchers`` plugin named ``matcher``, built with these settings.

        Raises:
            PluginError (a PointkitError): no such matcher, or it failed to import.
        """
        return registry.load("pointkit.matchers", self.matcher)(self)

    def as_dict(self) -> dict[str, Any]:
        """The matching settings alone (the manifest's "settings"; a MatchJob's photos and out left out)."""
        return {f.name: getattr(self, f.name) for f in fields(MatchSettings)}


@dataclass(kw_only=True)
class MatchJob(MatchSettings):
    """A whole ``pointkit match`` job: the photos, the dataset folder and the settings; the
    command's PHOTOS and --out, saved with the settings as ``<out>/config.json``."""

    photos: str = setting(
        help="Folder with one sub-folder of photos per object (the command's PHOTOS argument).",
        type=click.Path(file_okay=False),
        cli=False,
    )
    out: str = setting(help="Dataset folder to write.", type=click.Path(file_okay=False))

    def __post_init__(self):
        self.photos, self.out = str(self.photos), str(self.out)
        super().__post_init__()
