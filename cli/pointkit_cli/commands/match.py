"""``pointkit match``: correspondences from folders of real photos (one sub-folder per object)."""
import json

import click


def _registered_matcher(ctx, param, value):
    """A Click callback: ``value`` must name a ``pointkit.matchers`` plugin (nothing is imported)."""
    from pointkit import registry

    try:
        registry.require("pointkit.matchers", value)
    except registry.PluginError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@click.command()
@click.argument("photos", type=click.Path(file_okay=False, path_type=str))
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=str), help="Dataset folder to write.")
@click.option("--masks", default="none", show_default=True, metavar="DIR|auto|none",
              help="Object masks: a folder of user masks (same stem as the photo), auto (GrabCut), or none.")
@click.option("--matcher", default="sift", show_default=True, metavar="NAME", callback=_registered_matcher,
              help="Features and matching: a pointkit.matchers plugin (built in: sift; `pointkit plugins` lists them).")
@click.option("--features", default="sift", show_default=True, type=click.Choice(["sift", "rootsift"]),
              help="The sift matcher's descriptors (OpenCV SIFT; rootsift = Hellinger-normalised SIFT).")
@click.option("--max-size", default=1024, show_default=True, type=click.IntRange(min=64), metavar="PX",
              help="Downscale photos so the longer side is at most PX before detecting features.")
@click.option("--max-features", default=4000, show_default=True, type=click.IntRange(min=0), help="Keypoints per image (0 = all).")
@click.option("--ratio", default=0.8, show_default=True, type=click.FloatRange(0, 1, min_open=True), help="Lowe's ratio test.")
@click.option("--threshold", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Affine-F inlier threshold, px in the --max-size frame.")
@click.option("--min-matches", default=20, show_default=True, type=click.IntRange(min=4), help="Putative matches a pair needs.")
@click.option("--min-inliers", default=15, show_default=True, type=click.IntRange(min=5), help="Affine-F inliers a kept pair needs.")
@click.option("--resolution", default=256, show_default=True, type=click.IntRange(min=16),
              help="Stored images are letterboxed to RESOLUTION x RESOLUTION.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), metavar="W", help="Threads for features and pairs.")
@click.option("--seed", default=0, show_default=True, type=int, help="RANSAC seed.")
def match(photos, out, masks, matcher, features, max_size, max_features, ratio, threshold, min_matches, min_inliers,
          resolution, workers, seed):
    """Match every pair of photos inside each sub-folder of PHOTOS; write a dataset to --out.

    Pairs off the affine epipolar geometry are filtered, pairs a 2D affine map explains are dropped
    (Torr's GRIC). Also writes report.json/report.csv (per pair) and previews/<object>.png.
    Prints one JSON line with the counts.
    """
    import os

    from pointkit.match import MatchSettings, build_matched_dataset

    settings = MatchSettings(resolution=resolution, masks=masks, matcher=matcher, features=features, max_size=max_size,
                             max_features=max_features, ratio=ratio, threshold=threshold, min_matches=min_matches,
                             min_inliers=min_inliers, seed=seed, workers=workers)
    from pointkit.errors import PointkitError

    summary = build_matched_dataset(photos, out, settings, progress=os.environ.get("TQDM_DISABLE") != "1")
    click.echo(json.dumps(summary))
    if not summary["objects"]:   # a job that made nothing failed, whatever the reason
        why = "; ".join(f"{n} x {reason}" for reason, n in summary["reasons"].items()) or "no photo clusters found"
        raise PointkitError(f"no object was written to {out}: {why}")
    if summary["failures"]:
        raise PointkitError(f"{summary['failures']} photos or clusters failed (reasons in {out}/manifest.json "
                            "under 'failures'); the rest was written")
