"""pointkit adapt on real photos (the Middlebury dino, read in place from shared/data/photos):
match, held-out pairs, fine-tuning, a checkpoint lift takes, resume, and refusals."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from pointkit.models import load_checkpoint
from pointkit_cli.main import cli


@pytest.fixture()
def dino(shared_data, tmp_path):
    folder = tmp_path / "photos" / "dino"
    folder.mkdir(parents=True)
    for i in range(1, 9):
        (folder / f"dinoSR{i:04d}.png").symlink_to(shared_data / "photos" / "dinoSparseRing" / f"dinoSR{i:04d}.png")
    return tmp_path / "photos"


@pytest.mark.slow
def test_adapt_fine_tunes_on_held_in_pairs_and_reports_held_out_error(dino, tmp_path):
    out = tmp_path / "adapted"
    args = ["-q", "adapt", str(dino), "--out", str(out), "--steps", "10", "--batch-size", "4", "--threads", "1"]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["match"]["pairs_kept"] >= 4 and summary["pairs"]["heldout_pairs"] >= 1
    assert summary["pairs"]["train_pairs"] + summary["pairs"]["heldout_pairs"] == summary["match"]["pairs_kept"]
    assert summary["heldout_error_after_px"] <= summary["heldout_error_before_px"]
    model, meta = load_checkpoint(out)  # the folder is a checkpoint for lift / eval / --init
    assert meta["trained_with"] == "corr"
    card = (out / "MODEL_CARD.md").read_text()
    assert f"{summary['heldout_error_before_px']:.3f} px before" in card
    lifted = CliRunner().invoke(
        cli,
        [
            "-q",
            "lift",
            str(dino / "dino" / "dinoSR0001.png"),
            "--checkpoint",
            str(out),
            "--out",
            str(tmp_path / "lifted"),
        ],
    )
    assert lifted.exit_code == 0, lifted.output
    # The same command again resumes: nothing re-matched, the run already complete.
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and json.loads(again.stdout.strip().splitlines()[-1])["match"] == summary["match"]
    other = CliRunner().invoke(cli, args[:-2] + ["--threads", "1", "--lr", "0.5"])
    assert other.exit_code == 1 and "other settings" in other.stderr


def test_adapt_refuses_photos_with_too_few_usable_pairs(dino, tmp_path):
    run = CliRunner().invoke(
        cli,
        [
            "-q",
            "adapt",
            str(dino),
            "--out",
            str(tmp_path / "a"),
            "--min-pairs",
            "500",
            "--steps",
            "1",
            "--max-size",
            "320",
        ],
    )
    assert run.exit_code == 1 and len(run.stderr.strip().splitlines()) == 1
    assert "usable view pairs" in run.stderr and "need 500" in run.stderr and "x too few matches" in run.stderr
    assert not (tmp_path / "a" / "run").exists()
