"""The sample engine's stream, banks and photo-style assets with torch + numpy only.

Nothing here needs open3d or trimesh, so this file also runs on a GPU machine that has only torch
(scripts/gpu_run.sh runs it there: the CUDA test is the one that needs it). Shapes are analytic
ellipsoid SDFs on the bank lattice; geometry against open3d is tests/test_engine.py's job.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pointkit.engine import (
    EngineAppearance,
    ShapeBank,
    SynthStream,
    concat_banks,
    lattice,
    load_appearance,
    load_bank,
    orbit_cameras,
    save_bank,
    trace,
)
from pointkit.shading import sh_irradiance, triplanar
from pointkit.errors import PointkitError
from pointkit.training.data import collate_pairs

torch.set_num_threads(1)


def _sphere_bank(n=3, grid=32, radii=(0.5, 0.9)):
    """Ellipsoids |diag(1, 1.2, 0.8) p| = r for n radii r spread over ``radii``."""
    pts = lattice(grid)
    radii = np.linspace(*radii, n)
    return ShapeBank.from_grids(
        np.stack([np.linalg.norm(pts * [1.0, 1.2, 0.8], axis=-1) - r for r in radii]), dtype="int8"
    )


def test_stream_format_and_determinism():
    stream = SynthStream(_sphere_bank(), input_size=32, corr_per_pair=50, device="cpu")
    a = stream.next_batch(4, stream.generator(7))
    b = stream.next_batch(4, stream.generator(7))
    c = stream.next_batch(4, stream.generator(8))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a["image"], c["image"])
    # The collate_pairs format, key for key.
    items = [
        {
            "image": a["image"][i],
            "mask": a["mask"][i],
            "depth": a["depth"][i],
            "src": a["src"][i][a["valid"][i]],
            "tgt": a["tgt"][i][a["valid"][i]],
        }
        for i in range(4)
    ]
    ref = collate_pairs(items)
    assert set(ref) == set(a)
    for key in ref:
        assert a[key].dtype == ref[key].dtype, key
        assert (
            a[key].shape[:2] == ref[key].shape[:2]
            and a[key].shape[2:] == ref[key].shape[2:]
            or key in ("src", "tgt", "valid")
        )
    assert a["image"].shape == (4, 3, 32, 32) and a["mask"].shape == (4, 32, 32) and a["depth"].shape == (4, 32, 32)
    assert a["src"].shape == a["tgt"].shape == (4, 50, 2) and a["valid"].shape == (4, 50)
    n = a["valid"].sum(1)
    assert (n > 4).all()
    for i in range(4):  # valid rows first, on source object pixels; padding is zero
        assert a["valid"][i, : n[i]].all() and not a["valid"][i, n[i] :].any()
        uv = a["src"][i, : n[i]].long()
        assert a["mask"][i, uv[:, 1], uv[:, 0]].all()
        assert (a["src"][i, n[i] :] == 0).all()
    assert (a["depth"][~a["mask"]] == 0).all()


def test_bank_round_trip(tmp_path):
    bank = _sphere_bank(2, 24)
    path = save_bank(tmp_path / "bank.npz", bank)
    loaded = load_bank(path)
    assert loaded.data.dtype == torch.int8 and torch.equal(loaded.data, bank.data)
    assert loaded.truncation == pytest.approx(0.1) and loaded.names == ("0", "1")
    half = ShapeBank.from_grids(np.zeros((1, 8, 8, 8)) + 0.05, dtype="float16")
    loaded = load_bank(save_bank(tmp_path / "half.npz", half))
    assert loaded.data.dtype == torch.float16
    assert torch.allclose(loaded.sdf(torch.tensor([0])), torch.full((1, 1, 8, 8, 8), 0.05), atol=1e-4)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    bank = _sphere_bank()
    cpu = SynthStream(bank, input_size=48, corr_per_pair=100, device="cpu")
    gpu = SynthStream(bank, input_size=48, corr_per_pair=100, device="cuda")
    a = cpu.next_batch(4, cpu.generator(1))
    # Random draws differ across devices, so compare geometry for the same shapes and views.
    cams = orbit_cameras(torch.tensor([[20.0, 70.0]] * 3), torch.tensor([[10.0, 25.0]] * 3), 48)
    tc = trace(bank.sdf(torch.arange(3)), cams, bank.bound)
    cams_g = orbit_cameras(
        torch.tensor([[20.0, 70.0]] * 3, device="cuda"), torch.tensor([[10.0, 25.0]] * 3, device="cuda"), 48
    )
    tg = trace(gpu.shapes.sdf(torch.arange(3)), cams_g, bank.bound)
    assert (tc.mask == tg.mask.cpu()).float().mean() > 0.999
    both = tc.mask & tg.mask.cpu()
    assert (tc.depth[both] - tg.depth.cpu()[both]).abs().max() < 1e-3
    b = gpu.next_batch(4, gpu.generator(1))
    c = gpu.next_batch(4, gpu.generator(1))
    for key in a:
        assert b[key].dtype == a[key].dtype and b[key].shape == a[key].shape and b[key].device.type == "cuda"
        assert torch.equal(b[key], c[key])

    styled = SynthStream(
        bank, input_size=48, corr_per_pair=100, device="cuda", appearance=_random_appearance(), zoom=(1.0, 1.5)
    )
    d, e = styled.next_batch(4, styled.generator(3)), styled.next_batch(4, styled.generator(3))
    assert all(torch.equal(d[k], e[k]) for k in d) and d["image"].device.type == "cuda"
    assert max(_affine_residual({k: v.cpu() for k, v in d.items()})) < 0.01


def _random_appearance(seed=0, photos=3, textures=2, lights=2):
    g = torch.Generator().manual_seed(seed)
    sh = torch.randn(lights, 9, 3, generator=g) * 0.1
    sh[:, 0] += 1.0
    return EngineAppearance(
        torch.randint(0, 256, (photos, 3, 40, 40), generator=g, dtype=torch.uint8),
        torch.randint(0, 256, (textures, 3, 16, 16), generator=g, dtype=torch.uint8),
        sh,
    )


def test_sh_irradiance_matches_numerical_integration():
    """E(n) = integral of L(w) max(n.w, 0) over the sphere, by quadrature, for a band-limited L."""
    g = torch.Generator().manual_seed(3)
    sh = torch.randn(1, 9, 3, generator=g, dtype=torch.float64) * 0.15
    sh[0, 0] += 1.0  # L > 0 everywhere: no clamping
    normals = torch.nn.functional.normalize(torch.randn(1, 5, 3, generator=g, dtype=torch.float64), dim=-1)
    # Quadrature on a fine (theta, phi) grid; radiance from the same real SH basis written out here.
    th = (torch.arange(400, dtype=torch.float64) + 0.5) * math.pi / 400
    ph = (torch.arange(800, dtype=torch.float64) + 0.5) * 2 * math.pi / 800
    t, p = torch.meshgrid(th, ph, indexing="ij")
    w = torch.stack([torch.sin(t) * torch.cos(p), torch.sin(t) * torch.sin(p), torch.cos(t)], -1).reshape(-1, 3)
    area = (torch.sin(t) * (math.pi / 400) * (2 * math.pi / 800)).reshape(-1)
    x, y, z = w.unbind(-1)
    basis = torch.stack(
        [
            0.5 * math.sqrt(1 / math.pi) * torch.ones_like(x),
            math.sqrt(3 / (4 * math.pi)) * y,
            math.sqrt(3 / (4 * math.pi)) * z,
            math.sqrt(3 / (4 * math.pi)) * x,
            0.5 * math.sqrt(15 / math.pi) * x * y,
            0.5 * math.sqrt(15 / math.pi) * y * z,
            0.25 * math.sqrt(5 / math.pi) * (3 * z * z - 1),
            0.5 * math.sqrt(15 / math.pi) * x * z,
            0.25 * math.sqrt(15 / math.pi) * (x * x - y * y),
        ],
        -1,
    )
    radiance = basis @ sh[0]  # (M, 3)
    assert (radiance > 0).all()
    cosine = (normals[0] @ w.T).clamp(min=0)  # (5, M)
    expected = (cosine * area) @ radiance
    assert torch.allclose(sh_irradiance(sh, normals)[0], expected, rtol=2e-3, atol=1e-4)


def test_triplanar_reads_texel_centres_wraps_and_blends_by_normal():
    tex = torch.arange(2 * 3 * 4 * 4, dtype=torch.float32).reshape(2, 3, 4, 4) % 251 / 255
    # Points at texel centres of the (y, z) plane (x-facing normal): y -> columns, z -> rows.
    rows, cols = torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")
    pts = torch.stack([torch.full((16,), 0.3), (cols.reshape(-1) + 0.5) / 4, (rows.reshape(-1) + 0.5) / 4], -1)
    nx = torch.tensor([1.0, 0.0, 0.0]).expand(16, 3)
    out = triplanar(tex[:1], pts[None], nx[None])[0]
    assert torch.allclose(out, tex[0].reshape(3, 16).T, atol=1e-5)
    # Tiling: one world unit further is the same texel; a 45-degree normal averages two planes.
    shifted = triplanar(tex[:1], (pts + torch.tensor([0.0, 1.0, -2.0]))[None], nx[None])[0]
    assert torch.allclose(shifted, out, atol=1e-5)
    diag = torch.nn.functional.normalize(torch.tensor([1.0, 1.0, 0.0]), dim=0).expand(16, 3)
    ny = torch.tensor([0.0, 1.0, 0.0]).expand(16, 3)
    both = triplanar(tex[:1], pts[None], diag[None])[0]
    assert torch.allclose(both, 0.5 * (out + triplanar(tex[:1], pts[None], ny[None])[0]), atol=1e-5)
    # On a tile's edge, bilinear sampling wraps: halfway between the last and the first texel.
    edge = torch.tensor([[[0.3, 0.0, 0.125]]])
    wrapped = triplanar(tex[:1], edge, nx[None, :1])[0, 0]
    assert torch.allclose(wrapped, 0.5 * (tex[0, :, 0, 3] + tex[0, :, 0, 0]), atol=1e-5)


def test_appearance_travels_in_the_bank_and_pools(tmp_path):
    bank, app = _sphere_bank(2, 16), _random_appearance()
    path = save_bank(tmp_path / "a.npz", bank, app)
    back = load_appearance(path)
    for key in ("photos", "textures", "sh"):
        assert torch.equal(getattr(back, key), getattr(app, key)), key
    assert not load_appearance(save_bank(tmp_path / "b.npz", bank))  # a bank without assets
    pooled = EngineAppearance.concat([back, load_appearance(tmp_path / "b.npz"), _random_appearance(1, 1, 1, 1)])
    assert len(pooled.photos) == 4 and len(pooled.textures) == 3 and len(pooled.sh) == 3
    both = concat_banks([load_bank(path), _sphere_bank(3, 16)])
    assert len(both) == 5 and both.names == ("0", "1", "0", "1", "2")
    with pytest.raises(PointkitError, match="differ"):
        concat_banks([bank, _sphere_bank(1, 24)])
    (tmp_path / "junk.npz").write_bytes(b"not a bank")
    with pytest.raises(PointkitError, match="not a readable shape bank"):
        load_bank(tmp_path / "junk.npz")


def _affine_residual(batch):
    """Max residual (px) of the least-squares affine map [u, v, depth, 1] -> target, per item."""
    out = []
    for i in range(batch["src"].shape[0]):
        n = int(batch["valid"][i].sum())
        src, tgt = batch["src"][i, :n].double(), batch["tgt"][i, :n].double()
        d = batch["depth"][i][src[:, 1].long(), src[:, 0].long()].double()
        X = torch.cat([src, d[:, None], torch.ones(n, 1, dtype=torch.float64)], 1)
        P = torch.linalg.lstsq(X, tgt).solution
        out.append(float((X @ P - tgt).norm(dim=1).max()))
    return out


def test_zoom_frames_tighter_and_keeps_correspondences_exact():
    bank = _sphere_bank()
    plain = SynthStream(bank, input_size=48, corr_per_pair=60, device="cpu", appearance=_random_appearance())
    close = SynthStream(
        bank, input_size=48, corr_per_pair=60, device="cpu", appearance=_random_appearance(), zoom=(1.5, 1.5)
    )
    a, b = plain.next_batch(6, plain.generator(5)), close.next_batch(6, close.generator(5))
    # Same shapes and views (the zoom is drawn after them): the area grows by up to 1.5^2.
    ratio = b["mask"].sum((1, 2)).float() / a["mask"].sum((1, 2)).float()
    assert (ratio > 1.4).all() and (ratio <= 2.25 + 0.05).all()
    assert b["mask"][:, :, 0].any() or b["mask"][:, 0, :].any()  # some object leaves the frame
    assert max(_affine_residual(a)) < 0.01 and max(_affine_residual(b)) < 0.01
    with pytest.raises(PointkitError, match="zoom"):
        SynthStream(bank, zoom=(1.5, 1.0), device="cpu")


def test_appearance_changes_the_images_not_the_geometry():
    bank = _sphere_bank()
    bare = SynthStream(bank, input_size=32, corr_per_pair=40, device="cpu")
    styled = SynthStream(
        bank, input_size=32, corr_per_pair=40, device="cpu", appearance=_random_appearance(), photo_prob=1.0
    )
    a, b = bare.next_batch(4, bare.generator(2)), styled.next_batch(4, styled.generator(2))
    assert torch.equal(a["mask"], b["mask"]) and torch.equal(a["depth"], b["depth"])
    assert not torch.equal(a["image"], b["image"])
    again = styled.next_batch(4, styled.generator(2))
    assert torch.equal(again["image"], b["image"])


def test_stacked_lookup_equals_grid_sample_per_grid():
    """The tracer's lookup into all grids at once matches ``sample_sdf`` on each grid alone,
    outside the lattice (border padding) too, for any number of CPU batch rows."""
    from pointkit.engine.render import _sdf_lookup, sample_sdf

    g = torch.Generator().manual_seed(0)
    sdf = torch.randn(3, 1, 9, 9, 9, generator=g)
    points = (torch.rand(3, 101, 3, generator=g) * 2 - 1) * 1.3  # some beyond the bound of 1.05
    expected = sample_sdf(sdf, points, 1.05)
    shape = torch.arange(3).repeat_interleave(101)
    for threads in (1, 2, 3):
        torch.set_num_threads(threads)
        try:
            got = _sdf_lookup(sdf, 1.05)(points.reshape(-1, 3), shape).reshape(3, 101)
        finally:
            torch.set_num_threads(1)
        assert torch.allclose(got, expected, atol=1e-5)


def test_trace_hits_analytic_ellipsoids():
    """Depth and mask of traced ellipsoids |diag(1, 1.2, 0.8) p| = r against the exact ray
    intersection; rays culled by the box around the negative voxels are exactly the misses."""
    bank = _sphere_bank(grid=48, radii=(0.4, 0.7))  # inside the lattice (z semi-axis r / 0.8 < 1.05)
    az, el = torch.tensor([[0.0, 75.0]] * 3), torch.tensor([[5.0, 40.0]] * 3)
    cams = orbit_cameras(az, el, 40)
    traced = trace(bank.sdf(torch.arange(3)), cams, bank.bound)
    origins, direction = cams.pixel_rays()  # (3, 2, P, 3), (3, 2, 3)
    scale = torch.tensor([1.0, 1.2, 0.8])
    a_o, a_u = origins * scale, (direction * scale)[:, :, None, :]
    radii = torch.linspace(0.4, 0.7, 3)[:, None, None]
    qa, qb = (a_u * a_u).sum(-1), (a_o * a_u).sum(-1)
    qc = (a_o * a_o).sum(-1) - radii**2
    disc = qb * qb - qa * qc
    exact = ((-qb - disc.clamp(min=0).sqrt()) / qa).reshape(traced.depth.shape)
    hit = (disc > 0).reshape(traced.mask.shape)
    assert (traced.mask == hit).float().mean() > 0.999
    both = traced.mask & hit
    assert (traced.depth[both] - exact[both]).abs().median() < 2e-3
    assert (traced.depth[both] - exact[both]).abs().max() < 0.03  # grazing rays at the silhouette
    assert (traced.depth[~traced.mask] == 0).all() and (traced.points[~traced.mask] == 0).all()


def test_shading_a_pixel_does_not_depend_on_which_other_pixels_are_object():
    """``shade`` lights object pixels only, gathered per shape: dropping half of a view's object
    pixels from its mask leaves every other pixel's colour exactly as it was."""
    from pointkit.engine import shade

    bank = _sphere_bank()
    cams = orbit_cameras(torch.tensor([[10.0], [200.0], [90.0]]), torch.tensor([[15.0], [-5.0], [30.0]]), 32)
    traced = trace(bank.sdf(torch.arange(3)), cams, bank.bound)
    full = shade(traced, cams, torch.Generator().manual_seed(4), _random_appearance())
    fewer = traced.mask.clone()
    fewer[1, 0, ::2] = False  # every other row of the second shape's view
    kept = type(traced)(traced.depth, fewer, traced.normal, traced.points)
    part = shade(kept, cams, torch.Generator().manual_seed(4), _random_appearance())
    on = fewer[:, :, None].expand_as(full)
    assert on.any() and torch.equal(full[on], part[on])
    assert not torch.equal(full[~on], part[~on])  # the dropped pixels now show the background


def test_a_grid_without_inside_traces_to_empty_views():
    """No negative voxel: every ray is culled before marching, and the views are all background."""
    from pointkit.engine import shade

    bank = ShapeBank.from_grids(np.full((1, 16, 16, 16), 0.5), dtype="int8")
    cams = orbit_cameras(torch.tensor([[0.0, 90.0]]), torch.tensor([[0.0, 20.0]]), 16)
    traced = trace(bank.sdf(torch.tensor([0])), cams, bank.bound)
    assert not traced.mask.any() and (traced.depth == 0).all() and (traced.normal == 0).all()
    assert shade(traced, cams, torch.Generator().manual_seed(0)).shape == (1, 2, 3, 16, 16)


def test_the_photo_background_mix_changes_only_the_backgrounds():
    """``backgrounds="photo"`` (the fast renderer's photo style): same seed, same batch; the
    same geometry as the studio mix, other images; a bad name is one clear error."""
    bank = _sphere_bank()
    photo, studio = (SynthStream(bank, input_size=32, device="cpu", backgrounds=m) for m in ("photo", "studio"))
    a, b = photo.next_batch(3, photo.generator(9)), photo.next_batch(3, photo.generator(9))
    c = studio.next_batch(3, studio.generator(9))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert torch.equal(a["depth"], c["depth"]) and torch.equal(a["mask"], c["mask"])
    off = ~a["mask"][:, None].expand_as(a["image"])
    assert off.any() and not torch.equal(a["image"][off], c["image"][off])
    with pytest.raises(PointkitError, match="studio, photo"):
        SynthStream(bank, input_size=32, device="cpu", backgrounds="cloth")
