"""``pointkit match``: correspondences from folders of real photos (one sub-folder per object). The
options are MatchJob's settings; the command builds the job and calls build_matched_dataset."""

import json

import click

from pointkit.jobs.settings import click_options, from_cli
from pointkit.match.settings import MatchJob


@click.command()
@click.argument("photos", type=click.Path(file_okay=False))
@click_options(MatchJob)
@click.pass_context
def match(ctx, photos, **_):
    """Match every pair of photos inside each sub-folder of PHOTOS; write a dataset to --out.

    Pairs off the affine epipolar geometry are filtered, pairs a 2D affine map explains are dropped
    (Torr's GRIC). Also writes report.json/report.csv (per pair), previews/<object>.png and
    config.json (the settings). Prints one JSON line with the counts.
    """
    import os

    from pointkit.errors import PointkitError
    from pointkit.match import build_matched_dataset

    job = from_cli(MatchJob, ctx, photos=photos)
    summary = build_matched_dataset(job.photos, job.out, job, progress=os.environ.get("TQDM_DISABLE") != "1")
    click.echo(json.dumps(summary))
    if not summary["objects"]:  # a job that made nothing failed, whatever the reason
        why = "; ".join(f"{n} x {reason}" for reason, n in summary["reasons"].items()) or "no photo clusters found"
        raise PointkitError(f"no object was written to {job.out}: {why}")
    if summary["failures"]:
        raise PointkitError(
            f"{summary['failures']} photos or clusters failed (reasons in {job.out}/manifest.json "
            "under 'failures'); the rest was written"
        )
