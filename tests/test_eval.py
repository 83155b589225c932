"""pointkit.evaluate and ``pointkit eval``: metrics against independent numpy computations."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from pointkit.data.format import Dataset
from pointkit.errors import PointkitError
from pointkit.evaluate import evaluate
from pointkit.models import LiftNet, LiftNetConfig
from pointkit_cli.main import cli
from test_train_data import make_dataset


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("ds") / "ds", objects=4, splits=["test", "test", "train", "val"])


def split_images(root):
    ds = Dataset.open(root)
    for object_id in ds.split("test"):
        rec = ds.read(object_id)
        for v in range(rec.num_views):
            yield rec.images[v], rec.depth[v].astype(np.float64), rec.masks[v] & (rec.depth[v] > 0)


def numpy_rmse(pred, gt, m, mode):
    """RMSE after alignment, written from §5.1 / plain least squares with numpy."""
    p, g = pred[m], gt[m]
    if mode == "paper":
        a = (p * g).sum() / max((p * p).sum(), 1e-12)
        aligned = a * (p - np.median(p)) + np.median(g)
    else:
        v, u = np.nonzero(m)
        S = m.shape[0]
        cols = [p, np.ones_like(p)] if mode == "ls" else [p, (u + 0.5) / S, (v + 0.5) / S, np.ones_like(p)]
        A = np.stack(cols, 1)
        aligned = A @ np.linalg.lstsq(A, g, rcond=None)[0]
    return np.sqrt(np.mean((aligned - g) ** 2))


def test_flat_baseline_matches_numpy(dataset, tmp_path):
    result = evaluate(None, dataset, tmp_path / "flat", baseline="flat", progress=False)
    metrics = json.loads((tmp_path / "flat" / "metrics.json").read_text())
    images = list(split_images(dataset))
    assert metrics["images"] == len(images) == 6
    for mode in ("paper", "ls", "affine"):
        expect = np.mean([numpy_rmse(np.zeros_like(g), g, m, mode) for _, g, m in images])
        assert metrics["modes"][mode]["rmse"] == pytest.approx(expect, rel=1e-6)
        assert result[f"rmse_{mode}"] == pytest.approx(expect, abs=1e-5)
    # flat + paper alignment predicts the median of the ground truth
    expect_l1 = np.mean([np.abs(g[m] - np.median(g[m])).mean() for _, g, m in images])
    assert metrics["modes"]["paper"]["l1"] == pytest.approx(expect_l1, rel=1e-6)


def test_checkpoint_metrics_match_numpy_and_files_are_written(dataset, tmp_path):
    torch.manual_seed(0)
    net = LiftNet(LiftNetConfig(input_size=32, ngf=4)).eval()
    ckpt = net.save(tmp_path / "m.safetensors")
    out = tmp_path / "ev"
    evaluate(ckpt, dataset, out, device="cpu", grid=3, progress=False)
    metrics = json.loads((out / "metrics.json").read_text())
    images = list(split_images(dataset))
    with torch.no_grad():
        preds = [
            net(torch.from_numpy(im).permute(2, 0, 1)[None].float() / 127.5 - 1)[0, 0].double().numpy()
            for im, _, _ in images
        ]
    preds = [p - np.median(p[m]) for p, (_, _, m) in zip(preds, images)]  # the canonical zero-median output
    for mode in ("paper", "ls", "affine"):
        expect = np.mean([numpy_rmse(p, g, m, mode) for p, (_, g, m) in zip(preds, images)])
        assert metrics["modes"][mode]["rmse"] == pytest.approx(expect, rel=1e-5)
    rows = list(csv.DictReader(open(out / "per_image.csv")))
    assert len(rows) == 6 and {"rmse_affine", "delta1_paper", "sq_rel_ls"} <= set(rows[0])
    assert "| affine |" in (out / "metrics.md").read_text()
    assert Image.open(out / "grid.png").size == (4 * 128, 3 * 128)


def test_eval_of_dataset_without_depth_is_an_error(tmp_path):
    root = make_dataset(tmp_path / "nodepth", objects=3, depth=False, splits=["test", "train", "val"])
    with pytest.raises(PointkitError, match="no ground-truth depth"):
        evaluate(None, root, tmp_path / "o", baseline="flat", progress=False)


def test_cli_eval_json_line_and_errors(dataset, tmp_path):
    ckpt = LiftNet(LiftNetConfig(input_size=32, ngf=4)).save(tmp_path / "m.safetensors")
    res = CliRunner().invoke(cli, ["-q", "eval", str(ckpt), str(dataset), "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    line = json.loads(res.output.strip().splitlines()[-1])
    assert {"rmse_paper", "rmse_affine", "images"} <= set(line)
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    junk = str(tmp_path / "junk.safetensors")
    res = CliRunner().invoke(cli, ["eval", junk, str(dataset), "--out", str(tmp_path / "p")])
    assert res.exit_code == 1 and "not a readable safetensors checkpoint" in res.output
    res = CliRunner().invoke(cli, ["eval", str(ckpt), str(dataset), "--split", "nope", "--out", str(tmp_path / "q")])
    assert res.exit_code == 1 and "no objects in split" in res.output


@pytest.mark.parametrize("option", [dict(batch_size=0), dict(input_size=0)])
def test_out_of_range_options_are_one_line_errors(dataset, tmp_path, option):
    with pytest.raises(PointkitError, match=next(iter(option)).replace("_", "-")):
        evaluate(None, dataset, tmp_path / "o", baseline="flat", progress=False, **option)


def test_config_json_is_saved_and_another_jobs_out_refused(dataset, tmp_path):
    from pointkit.evaluate import EvalConfig

    ckpt = LiftNet(LiftNetConfig(input_size=32, ngf=4)).save(tmp_path / "m.safetensors")
    out = tmp_path / "o"
    res = CliRunner().invoke(cli, ["-q", "eval", str(ckpt), str(dataset), "--out", str(out), "--grid", "0"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["job"] == "eval" and EvalConfig(**saved["config"]) == EvalConfig(
        dataset=str(dataset), out=str(out), checkpoint=str(ckpt), grid=0, progress=False
    )
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"job": "train", "config": {}}))
    res = CliRunner().invoke(cli, ["eval", "--baseline", "flat", str(dataset), "--out", str(run)])
    assert res.exit_code == 1 and "belongs to a 'train' job" in res.stderr and len(res.stderr.splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]
    with pytest.raises(PointkitError, match="^--baseline 'zero': "):
        evaluate(None, dataset, tmp_path / "z", baseline="zero")
    with pytest.raises(TypeError):  # split and the rest are keywords: no silent misreading
        evaluate(None, dataset, tmp_path / "z", "test")
