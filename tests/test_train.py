"""pointkit.training: exact resume, run-folder and checkpoint guards, logs, DDP (2-process CPU
torchrun), and the ``pointkit train`` command. Tiny nets (32 px, ngf 4) and a few steps."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

from pointkit.errors import PointkitError
from pointkit.models import LiftNet, LiftNetConfig, load_checkpoint
from pointkit.training import TrainConfig, train
from pointkit_cli.main import cli
from test_train_data import make_dataset

REPO = Path(__file__).resolve().parents[1]
TINY = dict(
    model=dict(input_size=32, ngf=4),
    batch_size=4,
    threads=1,
    progress=False,
    hypotheses=32,
    val_every=2,
    checkpoint_every=1,
    patience=0,
)
TINY_MASK_HEAD = {**TINY["model"], "mask_head": True}


TINY_CLI = ["--steps", "2", "--batch-size", "4", "--input-size", "32", "--ngf", "4", "--threads", "1",
            "--hypotheses", "16", "--corr-per-pair", "10"]  # fmt: skip
"""A tiny run as ``pointkit train`` options (after DATASET --out RUN)."""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds") / "ds")


def weights(path):
    return load_file(str(path))


class TestResume:
    def test_half_then_resume_equals_straight(self, dataset, tmp_path):
        common = dict(TINY, datasets=[str(dataset)], model=TINY_MASK_HEAD, steps=6, corr_per_pair=20)
        straight = train(TrainConfig(out=str(tmp_path / "a"), **common))
        assert straight["steps"] == 6
        # A run stopped after 3 steps (as a kill would leave it, its checkpoint being the latest) ...
        train(TrainConfig(out=str(tmp_path / "b"), **{**common, "steps": 3}))
        # ... continued to 6 with --resume: same weights, BatchNorm statistics and optimiser state.
        resumed = train(TrainConfig(out=str(tmp_path / "b"), resume=True, **common))
        assert resumed["steps"] == 6
        wa, wb = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
        assert wa.keys() == wb.keys()
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=k)
        sa = json.loads((tmp_path / "a" / "state.json").read_text())
        sb = json.loads((tmp_path / "b" / "state.json").read_text())
        ta = load_file(str(tmp_path / "a" / sa["tensors"]))
        tb = load_file(str(tmp_path / "b" / sb["tensors"]))
        momentum = [k for k in ta if k.startswith("optim.")]
        assert momentum and all(torch.equal(ta[k], tb[k]) for k in momentum)
        # The log of the resumed run is the straight run's log, step for step.
        rows = lambda p: [(r["step"], r["loss"]) for r in csv.DictReader(open(p / "train.csv"))]  # noqa: E731
        assert rows(tmp_path / "a") == rows(tmp_path / "b")

    def test_resume_after_kill_between_checkpoints(self, dataset, tmp_path):
        """A leftover tensor file of an unfinished checkpoint (kill -9 before state.json moved on) is ignored."""
        common = dict(TINY, datasets=[str(dataset)], steps=4)
        train(TrainConfig(out=str(tmp_path / "a"), **common))
        train(TrainConfig(out=str(tmp_path / "b"), **{**common, "steps": 2}))
        (tmp_path / "b" / "state-000000003.safetensors").write_bytes(b"half written")
        train(TrainConfig(out=str(tmp_path / "b"), resume=True, **common))
        wa, wb = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
        assert all(torch.equal(wa[k], wb[k]) for k in wa)


class TestRunFolder:
    def test_a_mask_head_trained_without_mask_loss_is_marked_untrusted(self, dataset, tmp_path):
        """A head the run did not train (mask weight 0) is marked so lift's auto mask skips it."""
        cfg = TrainConfig(
            **{**TINY, "model": TINY_MASK_HEAD},
            datasets=[str(dataset)],
            out=str(tmp_path / "r"),
            steps=1,
            mask_weight=0.0,
        )
        assert load_checkpoint(train(cfg)["best"])[1]["mask_head_trusted"] is False

    def test_records_config_version_manifests_and_checkpoint_metadata(self, dataset, tmp_path):
        out = tmp_path / "run"
        summary = train(
            TrainConfig(**{**TINY, "model": TINY_MASK_HEAD}, datasets=[str(dataset)], out=str(out), steps=2)
        )
        saved = json.loads((out / "run.json").read_text())
        assert saved["config"]["steps"] == 2 and saved["config"]["loss"] == "corr"
        assert saved["pointkit_version"] and saved["datasets"][0]["manifests"][0]["format"] == "pointkit-dataset"
        assert saved["resolved"]["tau"] == pytest.approx(10 * 32 / 256)
        assert saved["resolved"]["corr_per_pair"] == TINY.get("corr_per_pair", 0)
        model, meta = load_checkpoint(summary["best"])
        assert meta["trained_with"] == "corr" and meta["input_size"] == 32 and model.config.mask_head
        assert meta["mask_head_trusted"] is True and meta["mask_weight"] == 1.0
        val = list(csv.DictReader(open(out / "val.csv")))
        assert [int(r["step"]) for r in val] == [0, 2]
        assert all(float(r["val_corr_error_px"]) > 0 for r in val)
        if importlib.util.find_spec("tensorboard") is not None:  # optional (pointkit[train]); CSV logs always
            assert any((out / "tb").iterdir())

    def test_other_run_in_out_is_an_error(self, dataset, tmp_path):
        cfg = dict(TINY, datasets=[str(dataset)], out=str(tmp_path / "run"), steps=1)
        train(TrainConfig(**cfg))
        with pytest.raises(PointkitError, match="holds another run"):
            train(TrainConfig(**cfg))
        with pytest.raises(PointkitError, match=r"other settings \(model\.ngf\)"):
            train(TrainConfig(**{**cfg, "model": {"input_size": 32, "ngf": 8}, "resume": True}))

    def test_init_from_checkpoint_of_another_architecture(self, dataset, tmp_path):
        """Weights of an ngf=4 net under a header that claims ngf=8."""
        from safetensors import safe_open
        from safetensors.torch import save_file

        bad = tmp_path / "bad.safetensors"
        LiftNet(LiftNetConfig(input_size=32, ngf=4)).save(bad)
        with safe_open(str(bad), framework="pt") as fh:
            meta = fh.metadata()
        meta["config"] = json.dumps({**json.loads(meta["config"]), "ngf": 8})
        save_file(load_file(str(bad)), str(bad), metadata=meta)
        with pytest.raises(PointkitError, match="do not match the liftnet architecture"):
            train(TrainConfig(datasets=[str(dataset)], out=str(tmp_path / "r"), init=str(bad), steps=1, threads=1))

    def test_init_fixes_architecture_and_lowers_lr(self, dataset, tmp_path):
        ckpt = tmp_path / "init.safetensors"
        LiftNet(LiftNetConfig(input_size=32, ngf=4)).save(ckpt)
        tiny = {k: v for k, v in TINY.items() if k != "model"}
        train(TrainConfig(datasets=[str(dataset)], out=str(tmp_path / "r"), init=str(ckpt), steps=1, **tiny))
        saved = json.loads((tmp_path / "r" / "run.json").read_text())
        assert saved["resolved"]["lr"] == 1e-5 and saved["model"]["ngf"] == 4
        with pytest.raises(PointkitError, match="fixes the architecture"):
            train(
                TrainConfig(
                    datasets=[str(dataset)], out=str(tmp_path / "r2"), init=str(ckpt), model={"ngf": 8}, steps=1, **tiny
                )
            )

    @pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
    def test_cuda_requested_but_absent(self, dataset, tmp_path):
        with pytest.raises(PointkitError, match="no CUDA GPU"):
            train(TrainConfig(datasets=[str(dataset)], out=str(tmp_path / "r"), device="cuda", steps=1, **TINY))

    def test_empty_dataset(self, tmp_path):
        from pointkit.data.format import write_manifest

        write_manifest(tmp_path / "empty", {"objects": {}})
        with pytest.raises(PointkitError, match="no objects"):
            train(TrainConfig(datasets=[str(tmp_path / "empty")], out=str(tmp_path / "r"), steps=1, **TINY))


@pytest.mark.parametrize("loss", ["depth", "ssi", "corr+ssi"])
def test_depth_supervised_losses_train(dataset, tmp_path, loss):
    """The depth-supervised objectives train (loss falls; corr+ssi logs both terms) and
    checkpoints carry trained_with."""
    summary = train(
        TrainConfig(
            datasets=[str(dataset)],
            out=str(tmp_path / "r"),
            loss=loss,
            steps=8,
            optimizer="adamw",
            lr=3e-3,
            **{**TINY, "val_every": 8},
        )
    )
    log = list(csv.DictReader(open(tmp_path / "r" / "train.csv")))
    rows = [float(r["loss"]) for r in log]
    assert sum(rows[-3:]) < sum(rows[:3])
    assert all(r["depth_loss"] != "" and (r["corr_loss"] != "") == (loss == "corr+ssi") for r in log)
    assert load_checkpoint(summary["last"])[1]["trained_with"] == loss


def test_cli_train_prints_summary_and_one_line_errors(dataset, tmp_path):
    args = ["train", str(dataset), "--out", str(tmp_path / "r"), *TINY_CLI]
    res = CliRunner().invoke(cli, ["-q"] + args)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["steps"] == 2
    res = CliRunner().invoke(cli, ["-q"] + args)
    assert res.exit_code == 1 and "holds another run" in res.output and "Traceback" not in res.output


def test_cli_resume_needs_only_out_the_rest_comes_from_config_json(dataset, tmp_path):
    run = tmp_path / "r"
    args = ["train", str(dataset), "--out", str(run), *TINY_CLI, "--checkpoint-every", "1"]
    assert CliRunner().invoke(cli, ["-q"] + args).exit_code == 0
    saved = json.loads((run / "config.json").read_text())
    assert (
        saved["job"] == "train"
        and saved["config"]["model"]["ngf"] == 4
        and saved["config"]["datasets"] == [str(dataset)]
    )
    res = CliRunner().invoke(cli, ["-q", "train", "--out", str(run), "--resume", "--steps", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["steps"] == 3
    assert json.loads((run / "config.json").read_text())["config"] == {**saved["config"], "steps": 3, "resume": True}
    res = CliRunner().invoke(cli, ["-q", "train", "--out", str(run), "--resume", "--steps", "4", "--ngf", "8"])
    assert res.exit_code == 1 and "ngf" in res.output  # a setting given anew must still match
    (run / "config.json").unlink()  # a run from before config.json: run.json, its architecture flat
    record = json.loads((run / "run.json").read_text())
    record["config"] = {**{k: v for k, v in record["config"].items() if k != "model"}, **record["config"]["model"]}
    (run / "run.json").write_text(json.dumps(record))
    res = CliRunner().invoke(cli, ["-q", "train", "--out", str(run), "--resume", "--steps", "5", "--ngf", "8"])
    assert res.exit_code == 1 and "model.ngf" in res.output
    res = CliRunner().invoke(cli, ["-q", "train", "--out", str(run), "--resume", "--steps", "4"])
    assert res.exit_code == 0, res.output
    assert json.loads((run / "config.json").read_text())["config"]["model"]["ngf"] == 4


@pytest.mark.slow
def test_ddp_two_process_cpu_torchrun(dataset, tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    if not torchrun.exists():
        pytest.skip("torchrun not installed beside the interpreter")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "cli")])}
    cmd = [
        str(torchrun),
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "pointkit_cli.main",
        "-q",
        "train",
        str(dataset),
        "--out",
        str(out),
        "--steps",
        "3",
        "--batch-size",
        "4",
        "--input-size",
        "32",
        "--ngf",
        "4",
        "--hypotheses",
        "16",
        "--val-every",
        "3",
        "--device",
        "cpu",
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.startswith("{")]
    assert len(lines) == 1 and lines[0]["world_size"] == 2 and lines[0]["steps"] == 3
    saved = json.loads((out / "run.json").read_text())
    assert saved["resolved"]["world_size"] == 2
    model, _ = load_checkpoint(out / "last.safetensors")
    assert all(torch.isfinite(p).all() for p in model.parameters())
    shutil.rmtree(out)


def test_center_weight_adds_the_squared_masked_mean_depth(dataset):
    from contextlib import nullcontext

    from pointkit.data.format import Dataset
    from pointkit.training import PairData, collate_pairs
    from pointkit.training.objective import StepContext, compute_loss

    data = PairData([Dataset.open(dataset)], "train", input_size=32, corr_per_pair=10)
    batch = collate_pairs([data[i] for i in range(4)])
    torch.manual_seed(0)
    net = LiftNet(LiftNetConfig(input_size=32, ngf=4)).eval()
    losses = {}
    for w in (0.0, 2.0):
        cfg = TrainConfig(datasets=[str(dataset)], out="unused", center_weight=w, hypotheses=16)
        ctx = StepContext(
            cfg, tau=1.25, rank=0, device=torch.device("cpu"), autocast=nullcontext(), channels_last=False
        )
        losses[w], _ = compute_loss(net, batch, ctx, step=0)
    with torch.no_grad():
        d = net(batch["image"].float() / 127.5 - 1)[:, 0]
    m = batch["mask"].float()
    expect = 2.0 * torch.stack([(d[b] * m[b]).sum() / m[b].sum() for b in range(4)]).pow(2).mean()
    torch.testing.assert_close(losses[2.0] - losses[0.0], expect, rtol=1e-4, atol=1e-6)


def test_ransac_threshold_is_tau_also_without_r():
    """--no-robust drops R only: RANSAC keeps the tau threshold (given, or 10 px at 256 scaled)."""
    common = dict(datasets=["unused"], out="unused")
    assert TrainConfig(robust=False, **common).resolved_tau(128) is None
    assert TrainConfig(robust=False, **common).ransac_threshold(128) == 5.0
    assert TrainConfig(robust=False, tau=3.0, **common).ransac_threshold(64) == 3.0
    assert TrainConfig(tau=3.0, **common).resolved_tau(64) == 3.0


def test_corrupt_run_record_or_state_is_a_one_line_error(dataset, tmp_path):
    cfg = dict(datasets=[str(dataset)], out=str(tmp_path / "r"), steps=1, **TINY)
    train(TrainConfig(**cfg))
    for name in ("state.json", "state-previous.json"):  # the latest checkpoint and its fallback
        state = json.loads((tmp_path / "r" / name).read_text())
        (tmp_path / "r" / state["tensors"]).write_bytes(b"not a safetensors file")
    with pytest.raises(PointkitError, match="unreadable training state"):
        train(TrainConfig(**{**cfg, "resume": True}))
    (tmp_path / "r" / "run.json").write_text("{truncated")
    with pytest.raises(PointkitError, match="unreadable run record"):
        train(TrainConfig(**{**cfg, "resume": True}))


@pytest.mark.parametrize("option", [dict(hypotheses=0), dict(val_every=-1), dict(patience=-1), dict(workers=-1)])
def test_config_rejects_out_of_range_options(option):
    with pytest.raises(PointkitError, match=next(iter(option)).replace("_", "-")):
        TrainConfig(datasets=["unused"], out="unused", **option)


def test_silhouette_prior_run_records_it_and_resumes_exactly(dataset, tmp_path):
    common = dict(
        TINY,
        datasets=[str(dataset)],
        model={**TINY_MASK_HEAD, "prior": "silhouette"},
        steps=4,
        corr_per_pair=20,
        prior_dropout=0.5,
    )
    train(TrainConfig(out=str(tmp_path / "a"), **common))
    model, meta = load_checkpoint(tmp_path / "a" / "best.safetensors")
    assert model.config.prior == "silhouette" and meta["prior"] == "silhouette" and meta["prior_dropout"] == 0.5
    train(TrainConfig(out=str(tmp_path / "b"), **{**common, "steps": 2}))
    train(TrainConfig(out=str(tmp_path / "b"), resume=True, **common))  # the prior dropout draws resume too
    wa, wb = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b" / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_val_pairs_validates_on_an_even_fixed_subset(dataset, tmp_path):
    full = train(TrainConfig(out=str(tmp_path / "a"), datasets=[str(dataset)], steps=2, **TINY))
    part = train(TrainConfig(out=str(tmp_path / "b"), datasets=[str(dataset)], steps=2, val_pairs=3, **TINY))
    assert full["val_pairs"] > 3 and part["val_pairs"] == 3
    assert part["best_val_corr_error_px"] != full["best_val_corr_error_px"]  # a different (smaller) set
    with pytest.raises(PointkitError, match="--val-pairs -1"):
        TrainConfig(out=str(tmp_path / "c"), datasets=[str(dataset)], val_pairs=-1)


def test_resume_accepts_moved_run_and_respelled_or_moved_dataset(dataset, tmp_path, monkeypatch):
    """Resume compares inputs by identity (resolved path or manifest), not by spelling."""
    common = dict(TINY, steps=4)
    moved_data = tmp_path / "elsewhere" / "data"
    moved_data.parent.mkdir()
    shutil.copytree(dataset, tmp_path / "original")
    train(TrainConfig(out=str(tmp_path / "a"), datasets=[str(tmp_path / "original")], **common))
    train(TrainConfig(out=str(tmp_path / "b"), datasets=[str(tmp_path / "original")], **{**common, "steps": 2}))
    (tmp_path / "original").rename(moved_data)  # moved: the old path is gone
    (tmp_path / "b").rename(tmp_path / "b-moved")
    monkeypatch.chdir(tmp_path / "elsewhere")
    train(TrainConfig(out="../b-moved/", datasets=["./data/"], resume=True, **common))
    wa, wb = weights(tmp_path / "a" / "last.safetensors"), weights(tmp_path / "b-moved" / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    # Another dataset is still refused.
    other = tmp_path / "other"
    shutil.copytree(dataset, other)
    (other / "manifest.json").write_text((other / "manifest.json").read_text().replace("{", "{ ", 1))
    with pytest.raises(PointkitError, match="datasets"):
        train(TrainConfig(out=str(tmp_path / "b-moved"), datasets=[str(other)], resume=True, **common))


def test_resume_drops_junk_log_rows_and_falls_back_past_a_truncated_state(dataset, tmp_path, caplog):
    """A junk CSV row is dropped with a warning; an unreadable latest checkpoint resumes from the
    one before it (still exactly: the same weights as a straight run)."""
    common = dict(TINY, datasets=[str(dataset)], checkpoint_every=2, val_every=2)
    train(TrainConfig(out=str(tmp_path / "a"), steps=6, **common))
    train(TrainConfig(out=str(tmp_path / "b"), steps=4, **common))
    run = tmp_path / "b"
    with open(run / "train.csv", "a") as fh:
        fh.write("junk,row\nabc,0,1,2,3,4,5,6,7,8\n")
    latest = json.loads((run / "state.json").read_text())["tensors"]
    assert latest == "state-000000004.safetensors" and (run / "state-previous.json").is_file()
    data = (run / latest).read_bytes()
    (run / latest).write_bytes(data[: len(data) // 2])  # truncated by a full disk, say
    with caplog.at_level("WARNING"):
        train(TrainConfig(out=str(run), steps=6, resume=True, **common))
    assert "dropped 2 unreadable row(s)" in caplog.text
    assert "state-000000004.safetensors: unreadable" in caplog.text and "before it (step 2)" in caplog.text
    wa, wb = weights(tmp_path / "a" / "last.safetensors"), weights(run / "last.safetensors")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    steps = [int(r["step"]) for r in csv.DictReader(open(run / "train.csv"))]
    assert steps == list(range(1, 7))
    # Both checkpoints unreadable: one line naming the files.
    for name in ("state.json", "state-previous.json"):
        (run / name).write_text("{")
    with pytest.raises(PointkitError, match="state.json: unreadable.*the checkpoint before it too"):
        train(TrainConfig(out=str(run), steps=8, resume=True, **common))


def test_keep_every_keeps_the_model_at_every_nth_step(dataset, tmp_path):
    """--keep-every 2 over 5 steps keeps steps 2 and 4: loadable checkpoints whose metadata names
    their step, the step-4 one the same weights as a 4-step run's last.safetensors (so each kept
    file is the model at its step, not a copy of a later one)."""
    common = dict(TINY, datasets=[str(dataset)], checkpoint_every=1, val_every=5, seed=3)
    train(TrainConfig(out=str(tmp_path / "kept"), steps=5, keep_every=2, **common))
    train(TrainConfig(out=str(tmp_path / "four"), steps=4, **common))
    kept = sorted(p.name for p in (tmp_path / "kept").glob("step-*.safetensors"))
    assert kept == ["step-000002.safetensors", "step-000004.safetensors"]
    assert not list((tmp_path / "four").glob("step-*"))
    model, meta = load_checkpoint(tmp_path / "kept" / "step-000004.safetensors")
    assert int(meta["step"]) == 4
    w4, w_last = weights(tmp_path / "kept" / "step-000004.safetensors"), weights(tmp_path / "four" / "last.safetensors")
    assert all(torch.equal(w4[k], w_last[k]) for k in w_last)
    w2 = weights(tmp_path / "kept" / "step-000002.safetensors")
    assert any(not torch.equal(w2[k], w4[k]) for k in w4)


def test_hidden_defaults_are_one_constant_each_and_resolved_explicitly():
    """corr_per_pair 0 means all for datasets but SYNTH_CORR_PER_PAIR under --synth (resolved
    where run.json records it); tau and the RANSAC hypotheses are one constant each, the defaults
    of the training config, the loss and the camera fit alike."""
    import inspect

    from pointkit.camera import fit_affine_camera
    from pointkit.defaults import RANSAC_HYPOTHESES, SYNTH_CORR_PER_PAIR, TAU_INPUT_SIZE, TAU_PX
    from pointkit.losses import correspondence_loss

    common = dict(out="unused", steps=1)
    assert TrainConfig(datasets=[], synth=["bank.npz"], **common).resolved_corr_per_pair() == SYNTH_CORR_PER_PAIR == 200
    assert TrainConfig(datasets=[], synth=["bank.npz"], corr_per_pair=50, **common).resolved_corr_per_pair() == 50
    assert TrainConfig(datasets=["d"], **common).resolved_corr_per_pair() == 0
    assert (
        f"{SYNTH_CORR_PER_PAIR} with --synth"
        in TrainConfig.__dataclass_fields__["corr_per_pair"].metadata["setting"].help
    )
    loss, fit = (inspect.signature(f).parameters for f in (correspondence_loss, fit_affine_camera))
    assert TrainConfig(datasets=["d"], **common).hypotheses == loss["hypotheses"].default == RANSAC_HYPOTHESES
    assert fit["hypotheses"].default == RANSAC_HYPOTHESES
    assert TrainConfig(datasets=["d"], **common).ransac_threshold(TAU_INPUT_SIZE) == loss["tau"].default == TAU_PX
