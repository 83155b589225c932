"""Photographic appearance of the fast renderer (pointkit.render.appearance, style="photo")."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import torch
import pytest
import trimesh

from pointkit.errors import PointkitError
from pointkit.render import render_views
from pointkit import shading
from pointkit.render import appearance as app
from pointkit.render import assets
from pointkit.render.appearance import random_material

ASSETS = Path(__file__).parents[1] / ".." / "shared" / "data" / "appearance"
needs_assets = pytest.mark.skipif(
    not (ASSETS / "hdri").is_dir(), reason=f"appearance assets not found at {ASSETS} (set up shared/data/appearance)"
)
VIEWS = [(0.0, 10.0), (90.0, 20.0), (200.0, -10.0)]
RES = 48


NOMINAL_ALBEDO = {
    "marble": (0.85, 0.83, 0.8),
    "bronze": (0.45, 0.3, 0.15),
    "stone": (0.45, 0.44, 0.42),
    "granite": (0.5, 0.48, 0.47),
    "sandstone": (0.72, 0.58, 0.4),
    "terracotta": (0.6, 0.3, 0.18),
    "plaster": (0.85, 0.84, 0.8),
    "wood": (0.45, 0.28, 0.14),
}
"""Base linear RGB of each procedural material (before per-draw jitter): warm or neutral, bright or dark."""


def _mesh():
    return trimesh.creation.icosphere(subdivisions=3)


def _photo(seed, **options):
    return render_views(_mesh(), VIEWS, RES, seed=seed, style="photo", appearance=str(ASSETS), **options)


@needs_assets
class TestPhotoStyle:
    def test_seeded(self):
        a, b, c = _photo(3), _photo(3), _photo(4)
        for x, y in zip(a, b):
            assert x.image.tobytes() == y.image.tobytes() and x.background == y.background
        assert any(x.image.tobytes() != z.image.tobytes() for x, z in zip(a, c))

    def test_depth_mask_unchanged_and_differs_from_plain(self):
        plain = render_views(_mesh(), VIEWS, RES, seed=1)
        photo = _photo(1)
        for p, q in zip(plain, photo):
            assert np.array_equal(p.depth, q.depth) and np.array_equal(p.mask, q.mask)
            assert q.image.shape == p.image.shape and q.image.dtype == np.uint8
            assert not np.array_equal(p.image, q.image)
        background = np.concatenate([q.image[~q.mask].astype(float) for q in _photo(1, photo_prob=1.0)])
        assert background.std(0).mean() > 5.0

    def test_background_splits(self):
        train = {p.name for p in assets.list_backgrounds(ASSETS, "train")}
        test = {p.name for p in assets.list_backgrounds(ASSETS, "test")}
        assert train and test and not train & test
        assert train | test == {p.name for p in assets.list_backgrounds(ASSETS, "all")}
        assert not {assets.background_group(n) for n in train} & {assets.background_group(n) for n in test}
        for view in _photo(5, backgrounds="test", photo_prob=1.0):
            name = view.background.split(":", 1)[1].split("+")[0]
            assert view.background.startswith("photo:") and name in test

    def test_every_material_renders(self, monkeypatch):
        """Each material is the one drawn and shows its own colour: warm or neutral and bright or dark
        as its nominal albedo (NOMINAL_ALBEDO, the module's documented base colours) says, over a few
        lightings; no two materials render alike."""
        drawn = []

        def spy(rng, root, kind=None):
            material = random_material(rng, root, kind)
            drawn.append(material)
            return material

        monkeypatch.setattr(app, "random_material", spy)
        colour, images = {}, {}
        for material in app.MATERIALS:
            views = [v for seed in (0, 1, 2) for v in _photo(seed, material=material)]
            assert [m.kind for m in drawn[-3:]] == [material] * 3
            pixels = np.concatenate([v.image[v.mask] for v in views]).astype(np.float64) / 255
            assert pixels.std() > 0
            colour[material] = (pixels**2.2).mean(0)  # linear RGB, mean over the object
            images[material] = views[0].image
        assert drawn[-1].params["name"] in {p.name for p in (ASSETS / "textures").iterdir()}
        warmth = {m: (c[0] - c[2]) / c.sum() for m, c in colour.items()}
        for material, albedo in NOMINAL_ALBEDO.items():
            warm = (albedo[0] - albedo[2]) / sum(albedo) > 0.15
            assert warmth[material] > 0.05 if warm else abs(warmth[material]) < 0.05, (material, warmth)
        brightness = {m: colour[m].mean() for m in NOMINAL_ALBEDO}
        bright = [m for m, a in NOMINAL_ALBEDO.items() if np.mean(a) > 0.8]
        dark = [m for m, a in NOMINAL_ALBEDO.items() if np.mean(a) < 0.5]
        assert bright and dark and min(brightness[m] for m in bright) > max(brightness[m] for m in dark), brightness
        for a, b in itertools.combinations(app.MATERIALS, 2):
            assert not np.array_equal(images[a], images[b]), (a, b)

    def test_bad_options(self, tmp_path):
        with pytest.raises(PointkitError, match="missing"):
            render_views(_mesh(), VIEWS, RES, style="photo", appearance=str(tmp_path))
        with pytest.raises(PointkitError, match="style"):
            render_views(_mesh(), VIEWS, RES, style="cartoon")
        with pytest.raises(PointkitError, match="backgrounds"):
            render_views(_mesh(), VIEWS, RES, style="photo", appearance=str(ASSETS), backgrounds="val")


class TestShading:
    def test_cast_shadow(self):
        floor = trimesh.creation.box(
            [2.0, 0.2, 2.0], transform=trimesh.transformations.translation_matrix([0, -0.1, 0])
        )
        roof = trimesh.creation.box([0.6, 0.1, 0.6], transform=trimesh.transformations.translation_matrix([0, 0.5, 0]))
        mesh = trimesh.util.concatenate([floor, roof])
        scene = app.make_scene(mesh.vertices, mesh.faces)
        points = np.array([[0.0, 0.0, 0.0], [0.8, 0.0, 0.8]])  # under the roof / in the open
        normals = np.array([[0.0, 1.0, 0.0]] * 2)
        material = app.Material(
            "plaster",
            np.array([0.8, 0.8, 0.8]),
            0.9,
            0.0,
            {"mottle": 0.0, "freq": np.zeros((1, 1, 3)), "phase": np.zeros((1, 1))},
        )
        lighting = app.Lighting(None, lights=[(np.array([0.0, 1.0, 0.0]), np.ones(3))])
        colour = app.shade(scene, points, normals, np.array([0.0, 1.0, 0.0]), material, lighting, ao_rays=0)
        assert colour[0].sum() < 0.1 * colour[1].sum() and colour[1].sum() > 0
        unshadowed = app.shade(
            scene, points, normals, np.array([0.0, 1.0, 0.0]), material, lighting, ao_rays=0, shadows=False
        )
        np.testing.assert_allclose(unshadowed[0], unshadowed[1], rtol=1e-6)
        ao = app.ambient_occlusion(scene, points, normals, rays=8, radius=1.0)
        assert ao[0] < ao[1]


def _equirect(height, width):
    return tuple(t.numpy() for t in shading.equirect_directions(height, width))


def _sh_irradiance(env, normals):
    """The core's SH irradiance of an equirect map (H, W, 3) at normals (N, 3), in numpy."""
    coefficients = shading.sh_coefficients(torch.from_numpy(np.asarray(env, np.float64)))
    return shading.sh_irradiance(coefficients, torch.from_numpy(normals)).numpy()


def _brute_force(env, normals):
    d, w = _equirect(*env.shape[:2])
    cos = np.clip(d.reshape(-1, 3) @ normals.T, 0, None) * w.reshape(-1, 1)  # (pixels, N)
    return cos.T @ env.reshape(-1, 3)


class TestSphericalHarmonics:
    def test_constant_environment(self):
        env = np.full((64, 128, 3), 0.7)
        normals = app._unit(np.random.default_rng(0).normal(size=(50, 3)))
        np.testing.assert_allclose(_sh_irradiance(env, normals), np.pi * 0.7, rtol=1e-3)

    def test_against_brute_force(self):
        d, _ = _equirect(64, 128)
        env = np.repeat(np.clip(d[..., 1:2], 0, None) ** 2 * 3 + 0.1 * (1 + d[..., :1]), 3, 2)  # lit from +Y
        normals = app._unit(np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.3, 0.5, -0.8]]))
        sh = _sh_irradiance(env, normals)
        assert sh[0, 0] > 3 * sh[1, 0]
        ref = _brute_force(env, normals)
        np.testing.assert_allclose(sh, ref, rtol=0.05, atol=0.02 * ref.max())

    @needs_assets
    def test_real_hdri(self):
        path = sorted((ASSETS / "hdri").glob("*.hdr"))[0]
        env = cv2.imread(str(path), cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR)[..., ::-1].astype(np.float64)
        env = cv2.resize(env, (64, 32), interpolation=cv2.INTER_AREA)
        normals = app._unit(np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0], [1.0, 0.2, 0.0], [0.0, 0.0, 1.0]]))
        ref = _brute_force(env, normals)
        sh = _sh_irradiance(env, normals)
        np.testing.assert_allclose(sh, ref, atol=0.1 * ref.max())


def test_resolver_error(monkeypatch, tmp_path):
    monkeypatch.setenv(assets.ENV_VAR, str(tmp_path / "nowhere"))
    with pytest.raises(PointkitError, match="POINTKIT_APPEARANCE"):
        assets.resolve_appearance_dir()
    assert assets.resolve_appearance_dir(required=False) is None
