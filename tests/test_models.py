"""LiftNet: shapes, output range, gradients, channels_last, safetensors round trip."""

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import save_file

from pointkit.errors import PointkitError
from pointkit.models import LiftNet, LiftNetConfig, catalog, load, load_checkpoint
from pointkit_cli.main import cli


@pytest.mark.parametrize("size,ngf,mask_head", [(64, 4, False), (128, 4, True), (256, 2, False)])
def test_shapes_and_range(size, ngf, mask_head):
    net = LiftNet(LiftNetConfig(input_size=size, ngf=ngf, mask_head=mask_head))
    y = net(torch.randn(2, 3, size, size) * 3)
    assert y.shape == (2, 2 if mask_head else 1, size, size)
    assert y[:, 0].abs().max() <= 1.0
    if mask_head:  # logits are not squashed
        assert net.head[-1].out_channels == 2


def test_widths_match_pix2pix():
    # ngf=64 at 256x256 is the 39.2 M-parameter network of docs/performance-notes.
    n = sum(p.numel() for p in LiftNet(input_size=256, ngf=64).parameters())
    assert abs(n - 39.16e6) < 0.05e6


def test_every_parameter_gets_a_gradient():
    net = LiftNet(input_size=64, ngf=4)
    net(torch.randn(2, 3, 64, 64)).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_channels_last_gives_the_same_output():
    torch.manual_seed(0)
    net = LiftNet(input_size=64, ngf=4).eval()
    x = torch.randn(2, 3, 64, 64)
    ref = net(x)
    out = net.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


def test_wrong_input_size_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(B, 3, 64, 64\)"):
        LiftNet(input_size=64, ngf=4)(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="power of two"):
        LiftNetConfig(input_size=100)


def test_save_load_round_trip(tmp_path):
    torch.manual_seed(1)
    net = LiftNet(LiftNetConfig(input_size=64, ngf=4, mask_head=True)).eval()
    path = net.save(tmp_path / "m.safetensors", metadata={"depth_sign": -1, "step": 7})
    loaded, meta = load_checkpoint(path)
    assert loaded.config == net.config and meta == {"depth_sign": -1, "step": 7}
    x = torch.randn(1, 3, 64, 64)
    torch.testing.assert_close(loaded(x), net(x))
    assert not loaded.training
    assert not list(tmp_path.glob(".*tmp*"))  # the atomic write left no temporary file


def test_checkpoint_names_its_architecture_and_old_ones_load_as_liftnet(tmp_path):
    net = LiftNet(LiftNetConfig(input_size=32, ngf=4)).eval()
    path = net.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    assert meta["architecture"] == "liftnet"
    # Checkpoints written before the architecture was stored name none: they are LiftNets.
    del meta["architecture"]
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "old.safetensors"), metadata=meta
    )
    loaded, _ = load_checkpoint(tmp_path / "old.safetensors")
    assert type(loaded) is LiftNet and loaded.config == net.config


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(PointkitError, match="not found"):
        LiftNet.load(tmp_path / "missing.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(PointkitError, match="not a readable"):
        LiftNet.load(tmp_path / "junk.safetensors")
    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something"})
    with pytest.raises(PointkitError, match="not a pointkit model checkpoint"):
        LiftNet.load(tmp_path / "other.safetensors")
    # A checkpoint whose weights belong to another architecture.
    net = LiftNet(input_size=64, ngf=4)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    meta = {"format": "pointkit-liftnet", "config": json.dumps({"input_size": 64, "ngf": 8}), "metadata": "{}"}
    save_file(state, str(tmp_path / "mismatch.safetensors"), metadata=meta)
    with pytest.raises(PointkitError, match="do not match"):
        LiftNet.load(tmp_path / "mismatch.safetensors")


def test_models_by_name_from_the_user_folder(tmp_path, monkeypatch):
    """pointkit models lists the shipped default and $POINTKIT_HOME/models; names work as --checkpoint."""
    monkeypatch.setenv("POINTKIT_HOME", str(tmp_path / "home"))
    folder = tmp_path / "home" / "models"
    (folder / "myrun").mkdir(parents=True)
    torch.manual_seed(0)
    small = LiftNet(LiftNetConfig(input_size=32, ngf=4))
    small.save(folder / "small.safetensors", {"step": 1})
    LiftNet(LiftNetConfig(input_size=32, ngf=8)).save(folder / "myrun" / "best.safetensors", {"step": 2})
    (folder / "notes.txt").write_text("not a model")
    names = {e.name: e for e in catalog.available()}
    assert {"small", "myrun"} <= set(names) and names["myrun"].path == folder / "myrun" / "best.safetensors"
    assert all(e.source == "user" for n, e in names.items() if n != "default")
    model, meta = load("small")  # pointkit.models.load
    assert model.config.ngf == 4 and meta["step"] == 1
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), small.state_dict().values()))
    assert load_checkpoint("myrun")[0].config.ngf == 8
    with pytest.raises(PointkitError, match="no model named 'nosuch'.*small"):
        catalog.resolve("nosuch")
    listed = CliRunner().invoke(cli, ["models", "--json"])
    assert listed.exit_code == 0 and {"small", "myrun"} <= {r["name"] for r in json.loads(listed.stdout)}
    bad = CliRunner().invoke(
        cli, ["lift", str(tmp_path / "x.png"), "--checkpoint", "nosuch", "--out", str(tmp_path / "o")]
    )
    assert bad.exit_code == 1 and "no model named 'nosuch'" in bad.stderr


def test_export_fp16_halves_the_weights_and_loads_back(tmp_path):
    """`pointkit export fp16`: float16 tensors and the same header on disk (read back by safetensors
    itself), about half the bytes, and a model whose outputs equal the float32 model's weights
    rounded to float16; a missing checkpoint is a one-line error."""
    torch.manual_seed(0)
    model = LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True)).eval()
    model.save(tmp_path / "m.safetensors", {"step": 3})
    run = CliRunner().invoke(
        cli, ["-q", "export", "fp16", str(tmp_path / "m.safetensors"), "--out", str(tmp_path / "h.safetensors")]
    )
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert 0 < summary["max_abs_rounding"] < 1e-2
    full, half = (safe_open(str(tmp_path / n), framework="pt") for n in ("m.safetensors", "h.safetensors"))
    assert half.metadata() == full.metadata()
    floats = [k for k in full.keys() if full.get_tensor(k).is_floating_point()]
    assert floats and all(half.get_tensor(k).dtype == torch.float16 for k in floats)
    assert summary["bytes"] < 0.6 * (tmp_path / "m.safetensors").stat().st_size
    loaded, meta = load_checkpoint(tmp_path / "h.safetensors")
    assert meta["step"] == 3
    rounded = LiftNet(LiftNetConfig(input_size=32, ngf=4, mask_head=True)).eval()
    rounded.load_state_dict(
        {k: v.half().float() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    )
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), rounded(x))
        assert not torch.equal(loaded(x), model(x))
    bad = CliRunner().invoke(cli, ["export", "fp16", str(tmp_path / "nope.safetensors"), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 1 and len(bad.output.strip().splitlines()) == 1
    assert not (tmp_path / "x").exists()
