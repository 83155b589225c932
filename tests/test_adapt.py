"""pointkit adapt on real photos (the Middlebury dino, read in place from shared/data/photos):
match, held-out pairs, fine-tuning, a checkpoint lift takes, resume, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import pointkit
from pointkit.data.format import Dataset
from pointkit.errors import PointkitError
from pointkit.models import load_checkpoint
from pointkit.models.onnx_model import load_export
from pointkit_cli.main import cli

V1 = Path(__file__).resolve().parents[1] / "models" / "v1" / "liftnet-v1.safetensors"
"""The default model until v3 (docs/model-card.md), kept in float16."""


@pytest.fixture()
def dino(shared_data, tmp_path):
    folder = tmp_path / "photos" / "dino"
    folder.mkdir(parents=True)
    for i in range(1, 9):
        (folder / f"dinoSR{i:04d}.png").symlink_to(shared_data / "photos" / "dinoSparseRing" / f"dinoSR{i:04d}.png")
    return tmp_path / "photos"


@pytest.mark.slow
def test_adapt_fine_tunes_on_held_in_pairs_and_reports_held_out_error(dino, tmp_path):
    """From v1 (the default until v3), whose mask head is implausible on the dino: lift took GrabCut."""
    out = tmp_path / "adapted"
    args = ["-q", "adapt", str(dino), "--out", str(out), "--init", str(V1), "--steps", "10", "--batch-size", "4",
            "--min-gain", "0", "--threads", "1"]  # fmt: skip
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["match"]["pairs_kept"] >= 4 and summary["pairs"]["heldout_pairs"] >= 1
    assert summary["pairs"]["train_pairs"] + summary["pairs"]["heldout_pairs"] == summary["match"]["pairs_kept"]
    assert summary["heldout_error_after_px"] <= summary["heldout_error_before_px"] and summary["kept"] == "adapted"
    model, meta = load_checkpoint(out)  # the folder is a checkpoint for lift / eval / --init
    assert meta["trained_with"] == "corr"
    # The mask lift takes is kept: v1's head is implausible on the dino, so lift took GrabCut; the
    # adapted head, trained on those masks, is marked untrusted, and lift takes GrabCut again.
    assert summary["pairs"]["head_trusted"] is False and meta["mask_head_trusted"] is False
    stored = Dataset.open(out / "pairs-train")
    record = stored.read(stored.split("all")[0])
    for image, mask in zip(record.images[:3], record.masks[:3]):
        assert 0.05 < mask.mean() < 0.95
        assert np.array_equal(mask, pointkit.lift(image, mask="auto", checkpoint=str(V1)).mask)  # the pseudo-labels
    photo = dino / "dino" / "dinoSR0001.png"
    base, adapted = pointkit.lift(photo, checkpoint=str(V1)), pointkit.lift(photo, checkpoint=out)
    assert adapted.info["mask"] == base.info["mask"] == "grabcut" and np.array_equal(adapted.mask, base.mask)
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
    # The ONNX export beside the checkpoint is this checkpoint's: lift runs it by onnxruntime.
    assert summary["onnx"] == str(out / "best.onnx") and load_export(out / "best.safetensors") is not None
    by_onnx, by_torch = (pointkit.lift(photo, checkpoint=out, backend=b) for b in ("onnx", "torch"))
    assert np.abs(by_onnx.raw - by_torch.raw).max() < 1e-3
    # The same command again resumes: nothing re-matched, the run already complete.
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0 and json.loads(again.stdout.strip().splitlines()[-1])["match"] == summary["match"]
    # A gain below --min-gain publishes the starting model itself (the run is reused, not redone).
    strict = CliRunner().invoke(cli, [*args[:-4], "--min-gain", "0.99", "--threads", "1"])
    assert strict.exit_code == 0, strict.output
    assert json.loads(strict.stdout.strip().splitlines()[-1])["kept"] == "start"
    assert (out / "best.safetensors").read_bytes() == V1.read_bytes()
    assert (
        "the starting model: fine-tuning lowered the held-out error by less than 99%"
        in (out / "MODEL_CARD.md").read_text()
    )
    other = CliRunner().invoke(cli, args[:-2] + ["--threads", "1", "--lr", "0.5"])
    assert other.exit_code == 1 and "other settings" in other.stderr
    # A folder made before the mask head was kept (adapt.json without a format) is not resumed.
    record = json.loads((out / "adapt.json").read_text())
    record.pop("format")
    (out / "adapt.json").write_text(json.dumps(record))
    old = CliRunner().invoke(cli, args)
    assert old.exit_code == 1 and "older pointkit adapt" in old.stderr


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
    assert "a ring of 16-24 around each object, 15-20 degrees apart" in run.stderr
    assert not (tmp_path / "a" / "run").exists()


@pytest.mark.slow
def test_adapt_trains_a_mask_head_that_lift_was_using(dino, tmp_path):
    """From a model whose head lift takes on these photos, the adapted head (trained on its own
    accepted masks) stays trusted, and lift still takes it, close to the starting model's mask."""
    start = Path(__file__).resolve().parents[1] / "models" / "h200-2026-12-04" / "corr" / "best.safetensors"
    out = tmp_path / "adapted"
    args = ["-q", "adapt", str(dino), "--out", str(out), "--init", str(start), "--steps", "4", "--batch-size", "4"]
    run = CliRunner().invoke(cli, args + ["--min-gain", "0", "--threads", "1"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["pairs"]["head_trusted"] is True
    assert load_checkpoint(out)[1]["mask_head_trusted"] is True
    lifted = pointkit.lift(dino / "dino" / "dinoSR0001.png", checkpoint=out)
    truth = pointkit.lift(dino / "dino" / "dinoSR0001.png", checkpoint=start).mask
    assert lifted.info["mask"].startswith("network") and (lifted.mask & truth).sum() / (lifted.mask | truth).sum() > 0.8


@pytest.mark.slow
def test_a_small_set_adapts_with_the_batch_capped_at_its_training_pairs(dino, tmp_path):
    """A batch larger than the training pairs there are is capped instead of refused."""
    out = tmp_path / "adapted"
    args = ["-q", "adapt", str(dino), "--out", str(out), "--steps", "2", "--batch-size", "500", "--threads", "1"]
    run = CliRunner().invoke(cli, args)
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["batch_size"] == 2 * summary["pairs"]["train_pairs"] < 500
    assert f"batch {summary['batch_size']}," in (out / "MODEL_CARD.md").read_text()


@pytest.mark.slow
def test_a_failed_or_killed_match_stage_resumes_with_the_same_command(dino, tmp_path):
    """After "too few usable pairs" the same command fails the same way (not "not an adapt
    folder"), a lower --min-pairs goes on from there; a folder left by a kill during matching (its
    record, a half-written matched/) is matched again and finished."""
    out = tmp_path / "a"
    base = ["-q", "adapt", str(dino), "--out", str(out), "--steps", "2", "--batch-size", "4", "--threads", "1"]
    for _ in range(2):
        run = CliRunner().invoke(cli, base + ["--min-pairs", "500"])
        assert run.exit_code == 1 and "usable view pairs" in run.stderr and "need 500" in run.stderr
    run = CliRunner().invoke(cli, base)
    assert run.exit_code == 0, run.output
    done = json.loads(run.stdout.strip().splitlines()[-1])
    killed = tmp_path / "b"
    killed.mkdir()
    record = json.loads((out / "adapt.json").read_text())
    (killed / "adapt.json").write_text(
        json.dumps({"format": record["format"], "config": {**record["config"], "out": str(killed)}})
    )
    (killed / "matched").mkdir()
    (killed / "matched" / "partial.tmp").write_bytes(b"half")
    again = CliRunner().invoke(cli, [*base[:4], str(killed), *base[5:]])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout.strip().splitlines()[-1])["match"]["pairs_kept"] == done["match"]["pairs_kept"]


def test_adding_photos_matches_only_the_new_pairs_and_fine_tunes_again(dino, tmp_path):
    """Re-running after 2 photos were added to 6: the 15 pairs of the 6 come from the pair cache,
    the 13 with a new photo are matched, the split and fine-tuning are done again on all 8, and the
    earlier run is kept aside (run-superseded, best-superseded.safetensors)."""
    folder = dino / "dino"
    later = sorted(folder.iterdir())[6:]
    aside = tmp_path / "aside"
    aside.mkdir()
    for f in later:
        f.rename(aside / f.name)
    out = tmp_path / "a"
    args = ["-q", "adapt", str(dino), "--out", str(out), "--steps", "2", "--batch-size", "4", "--threads", "1"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    before = json.loads(first.stdout.strip().splitlines()[-1])
    assert before["match"]["pairs_from_cache"] == 0
    assert before["match"]["pairs_kept"] + before["match"]["pairs_rejected"] == 15
    same = CliRunner().invoke(cli, args)  # nothing new: everything reused, nothing superseded
    assert same.exit_code == 0 and not (out / "run-superseded").exists()
    for f in later:
        (aside / f.name).rename(folder / f.name)
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 0, again.output
    after = json.loads(again.stdout.strip().splitlines()[-1])
    assert after["match"]["pairs_from_cache"] == 15
    assert after["match"]["pairs_kept"] + after["match"]["pairs_rejected"] == 28
    assert (out / "run-superseded" / "best.safetensors").is_file() and (out / "best-superseded.safetensors").is_file()
    assert len(Dataset.open(out / "pairs-train").read("dino").images) == 8
    record = json.loads((out / "adapt.json").read_text())
    assert [p[0] for p in record["photos"]] == [f"dino/dinoSR{i:04d}.png" for i in range(1, 9)]


def test_an_adapt_folder_recorded_before_match_settings_were_nested_resumes(dino, tmp_path):
    """adapt.json's config used to hold only the match settings the command gave ({masks,
    max_size, seed}); now it holds every one. Such a folder is resumed by the same settings and
    refused with others."""
    from dataclasses import asdict

    from pointkit.adapt import FORMAT, RECORD, AdaptConfig, _previous_run

    out = tmp_path / "a"
    out.mkdir()
    cfg = AdaptConfig(photos=str(dino), out=str(out), match={"masks": "auto", "max_size": 320})
    old = {**asdict(cfg), "match": {"masks": "auto", "max_size": 320, "seed": 0}}
    (out / RECORD).write_text(json.dumps({"format": FORMAT, "config": old}))
    assert _previous_run(cfg, out)["config"] == old
    with pytest.raises(PointkitError, match="other settings"):
        _previous_run(AdaptConfig(photos=str(dino), out=str(out), match={"masks": "auto"}), out)
