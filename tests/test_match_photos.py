"""pointkit match on real photos (read in place from shared/data/photos), against ground-truth cameras."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from pointkit.data.format import Dataset
from pointkit.match import MatchSettings, build_matched_dataset
from pointkit.match.features import read_image
from pointkit.match.pipeline import photo_mask

SETS = {
    "temple": ("templeSparseRing", ["templeSR0003.png", "templeSR0004.png", "templeSR0005.png"]),
    "dino": ("dinoSparseRing", ["dinoSR0001.png", "dinoSR0002.png", "dinoSR0003.png"]),
    "fountain": ("fountain-P11/images", ["0003.jpg", "0004.jpg", "0005.jpg"]),
}


def ring_cameras(folder):
    """Middlebury *_par.txt: name K(9) R(9) t(3) per line; P = K [R | t]."""
    (par,) = folder.glob("*_par.txt")
    cams = {}
    for line in par.read_text().splitlines()[1:]:
        tok = line.split()
        if len(tok) == 22:
            v = np.array(tok[1:], float)
            cams[tok[0]] = v[:9].reshape(3, 3) @ np.hstack([v[9:18].reshape(3, 3), v[18:21, None]])
    return cams


def strecha_camera(path):
    """Strecha's .camera: K (3 rows), a zero row, R (camera->world, 3 rows), centre C, size; P = K [R^T | -R^T C]."""
    v = np.loadtxt(path, max_rows=8)
    K, R, C = v[:3], v[4:7], v[7]
    return K @ np.hstack([R.T, (-R.T @ C)[:, None]])


def camera_of(photos, set_name, file):
    if set_name == "fountain":
        return strecha_camera(photos / "fountain-P11" / "gt_dense_cameras" / f"{file}.camera")
    return ring_cameras(photos / SETS[set_name][0])[file]


def fundamental(P1, P2):
    """F with x2^T F x1 = 0 (H&Z 9.2.2): [e2]_x P2 P1^+."""
    c = np.linalg.svd(P1)[2][-1]
    e = P2 @ c
    ex = np.array([[0, -e[2], e[1]], [e[2], 0, -e[0]], [-e[1], e[0], 0]])
    return ex @ P2 @ np.linalg.pinv(P1)


def epipolar_distance(F, x1, x2):
    """Max over both images of the point-to-epipolar-line distance, px. The calibrations put pixel
    centres at integers, so our (u, v) (centres at i + 0.5) are shifted by -0.5 first."""
    h1 = np.c_[x1 - 0.5, np.ones(len(x1))]
    h2 = np.c_[x2 - 0.5, np.ones(len(x2))]
    l2, l1 = h1 @ F.T, h2 @ F
    d2 = np.abs((l2 * h2).sum(1)) / np.hypot(l2[:, 0], l2[:, 1])
    d1 = np.abs((l1 * h1).sum(1)) / np.hypot(l1[:, 0], l1[:, 1])
    return np.maximum(d1, d2)


def to_original(uv, view):
    return (uv - np.array(view["offset"])) / np.array(view["scale"])


@pytest.fixture(scope="module")
def matched(shared_data, tmp_path_factory):
    photos = shared_data / "photos"
    root = tmp_path_factory.mktemp("photos")
    for cluster, (folder, files) in SETS.items():
        (root / cluster).mkdir()
        for f in files:
            (root / cluster / f).symlink_to(photos / folder / f)
    out = tmp_path_factory.mktemp("matched")
    summary = build_matched_dataset(root, out, MatchSettings(resolution=128), progress=False)
    return photos, out, summary


@pytest.mark.parametrize("set_name", list(SETS))
def test_kept_matches_lie_on_true_epipolar_lines(matched, set_name):
    photos, out, _ = matched
    ds = Dataset.open(out)
    assert ds.manifest["kind"] == "matched" and ds.manifest["resolution"] == 128
    rec = ds.read(set_name)
    views = ds.objects[set_name]["views"]
    assert rec.images.shape == (3, 128, 128, 3)
    for k, v in enumerate(views):  # --masks none: the photo's area, not the padding
        (ox, oy), (w, h) = np.array(v["offset"], int), np.round(np.array(v["size"]) * v["scale"]).astype(int)
        expected = np.zeros((128, 128), bool)
        expected[oy : oy + h, ox : ox + w] = True
        assert np.array_equal(rec.masks[k], expected) and rec.images[k][~expected].max() == 0
    dists = []
    for p, (s, t) in enumerate(rec.pairs):
        a, b = rec.correspondences(p)
        # both directions are stored: (t, s) holds the same correspondences swapped
        q = next(k for k, (s2, t2) in enumerate(rec.pairs) if (s2, t2) == (t, s))
        np.testing.assert_array_equal(rec.correspondences(q)[0], b)
        assert a.min() >= 0 and a.max() <= 128
        x1, x2 = to_original(a, views[s]), to_original(b, views[t])
        F = fundamental(camera_of(photos, set_name, views[s]["file"]), camera_of(photos, set_name, views[t]["file"]))
        dists.append(epipolar_distance(F, x1, x2))
    d = np.concatenate(dists)
    assert len(rec.pairs) >= 2 and len(d) >= 40, f"{set_name}: too few kept matches ({len(d)})"
    assert np.median(d) < 1.5, f"{set_name}: median epipolar distance {np.median(d):.2f} px"
    assert np.mean(d < 3.0) >= 0.9, f"{set_name}: only {np.mean(d < 3.0):.1%} within 3 px"


def test_report_lists_every_pair(matched):
    _, out, summary = matched
    rows = json.loads((out / "report.json").read_text())
    assert len(rows) == 9 and summary["pairs_kept"] + summary["pairs_rejected"] == 9
    assert summary["pairs_kept"] == sum(r["kept"] for r in rows)
    assert (out / "report.csv").read_text().count("\n") == 10
    for cluster in SETS:
        assert (out / "previews" / f"{cluster}.png").stat().st_size > 1000


def test_affine_warp_rejected_parallax_kept(shared_data, tmp_path):
    import cv2

    src = shared_data / "photos" / "templeSparseRing"
    img = read_image(src / "templeSR0003.png")
    A = np.array([[0.92, 0.12, 30.0], [-0.1, 0.95, 20.0]])
    warped = cv2.warpAffine(img, A, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR)
    (tmp_path / "p" / "warp").mkdir(parents=True)
    (tmp_path / "p" / "parallax").mkdir()
    cv2.imwrite(str(tmp_path / "p" / "warp" / "a.png"), img[..., ::-1])
    cv2.imwrite(str(tmp_path / "p" / "warp" / "b.png"), warped[..., ::-1])
    for f in ("templeSR0003.png", "templeSR0004.png"):
        (tmp_path / "p" / "parallax" / f).symlink_to(src / f)
    summary = build_matched_dataset(tmp_path / "p", tmp_path / "out", progress=False)
    rows = {r["cluster"]: r for r in json.loads((tmp_path / "out" / "report.json").read_text())}
    assert rows["warp"]["matches"] > 100 and not rows["warp"]["kept"]
    assert "2D affine map" in rows["warp"]["reason"] and rows["warp"]["gric_h"] < rows["warp"]["gric_f"]
    assert rows["parallax"]["kept"] and rows["parallax"]["gric_f"] < rows["parallax"]["gric_h"]
    assert summary["objects"] == 1
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert list(manifest["objects"]) == ["parallax"]
    assert any(f["cluster"] == "warp" and "no pair kept" in f["reason"] for f in manifest["failures"])
    # Whatever the RANSAC seed: before the MSAC refit rule, 2 of these 12 seeds kept the warp.
    from pointkit.match import match_pair
    from pointkit.match.pipeline import _prepare_view

    s = MatchSettings()
    matcher = s.load_matcher()
    fa, fb = (_prepare_view(tmp_path / "p" / "warp" / f, "warp", s, matcher)[2] for f in ("a.png", "b.png"))
    assert not any(match_pair(fa, fb, s, np.random.default_rng([0, k, 0, 1]), matcher).kept for k in range(12))


def test_edge_cases_report_without_crash(shared_data, tmp_path):
    """One-image cluster, a pair without overlap, a corrupt file and mixed sizes, through the CLI."""
    import cv2

    from pointkit_cli.main import cli

    photos = shared_data / "photos"
    p = tmp_path / "p"
    for d in ("single", "nooverlap", "mixed"):
        (p / d).mkdir(parents=True)
    (p / "single" / "only.png").symlink_to(photos / "templeSparseRing" / "templeSR0001.png")
    (p / "nooverlap" / "temple.png").symlink_to(photos / "templeSparseRing" / "templeSR0001.png")
    (p / "nooverlap" / "dino.png").symlink_to(photos / "dinoSparseRing" / "dinoSR0001.png")
    (p / "mixed" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    (p / "mixed" / "a.png").symlink_to(photos / "templeSparseRing" / "templeSR0003.png")
    small = read_image(photos / "templeSparseRing" / "templeSR0004.png")
    small = cv2.resize(small, (480, 360), interpolation=cv2.INTER_AREA)  # 0.75x: a different size
    cv2.imwrite(str(p / "mixed" / "b.png"), small[..., ::-1])
    res = CliRunner().invoke(cli, ["-q", "match", str(p), "--out", str(tmp_path / "out"), "--resolution", "96"])
    assert res.exit_code == 1 and "failed (reasons in" in res.output, res.output  # some clusters failed
    summary = json.loads([line for line in res.output.splitlines() if line.startswith("{")][-1])
    assert summary["objects"] == 1
    ds = Dataset.open(tmp_path / "out")
    reasons = {(f["cluster"], f.get("file")): f["reason"] for f in ds.failures}
    assert "not an image" in reasons[("mixed", "broken.jpg")]
    assert "fewer than 2 readable images" in reasons[("single", None)]
    rows = {r["cluster"]: r for r in json.loads((tmp_path / "out" / "report.json").read_text())}
    assert not rows["nooverlap"]["kept"] and "too few" in rows["nooverlap"]["reason"]
    # mixed sizes: both views letterboxed to 96 x 96; mapped back they obey the true geometry
    rec = ds.read("mixed")
    views = ds.objects["mixed"]["views"]
    assert rec.images.shape == (2, 96, 96, 3) and views[1]["size"] == [480, 360]
    cams = ring_cameras(photos / "templeSparseRing")
    a, b = rec.correspondences(int(np.nonzero((rec.pairs == [0, 1]).all(1))[0][0]))
    x1, x2 = to_original(a, views[0]), to_original(b, views[1]) / 0.75
    d = epipolar_distance(fundamental(cams["templeSR0003.png"], cams["templeSR0004.png"]), x1, x2)
    assert np.median(d) < 1.5


def test_masks_user_and_auto(shared_data, tmp_path):
    import cv2

    src = shared_data / "photos" / "templeSparseRing"
    (tmp_path / "p" / "t").mkdir(parents=True)
    (tmp_path / "m").mkdir()
    for f in ("templeSR0003.png", "templeSR0004.png"):
        (tmp_path / "p" / "t" / f).symlink_to(src / f)
        m = np.zeros((480, 640), np.uint8)
        m[:, 320:] = 255  # only the right half is "object"
        cv2.imwrite(str(tmp_path / "m" / f), m)
    build_matched_dataset(tmp_path / "p", tmp_path / "out", MatchSettings(masks=str(tmp_path / "m")), progress=False)
    rec = Dataset.open(tmp_path / "out").read("t")
    assert rec.uv_src.shape[0] > 0 and rec.uv_src[:, 0].min() >= 128 and rec.uv_tgt[:, 0].min() >= 128
    assert not rec.masks[:, 100, :127].any() and rec.masks[:, 100, 129:].all()
    # auto mask vs the dataset README's silhouette recipe (threshold 0.19, dilate 10, erode 7)
    rgb = read_image(shared_data / "photos" / "dinoSparseRing" / "dinoSR0002.png")
    ref = (rgb.max(-1) / 255.0 > 0.19).astype(np.uint8)
    ref = cv2.erode(cv2.dilate(ref, np.ones((21, 21), np.uint8)), np.ones((15, 15), np.uint8)) > 0
    got = photo_mask(rgb)
    assert (got & ref).sum() / (got | ref).sum() > 0.85
    assert np.array_equal(got, photo_mask(rgb))


def test_same_seed_same_dataset(shared_data, tmp_path):
    src = shared_data / "photos" / "dinoSparseRing"
    (tmp_path / "p" / "d").mkdir(parents=True)
    for f in ("dinoSR0001.png", "dinoSR0002.png"):
        (tmp_path / "p" / "d" / f).symlink_to(src / f)
    recs = []
    for k in range(2):
        build_matched_dataset(tmp_path / "p", tmp_path / f"o{k}", MatchSettings(seed=3, workers=2), progress=False)
        recs.append(Dataset.open(tmp_path / f"o{k}").read("d"))
    for key in ("images", "masks", "pairs", "pair_offsets", "uv_src", "uv_tgt"):
        assert getattr(recs[0], key).tobytes() == getattr(recs[1], key).tobytes()


def test_match_that_writes_nothing_exits_1_and_says_why(tmp_path, shared_data):
    from pointkit_cli.main import cli

    p = tmp_path / "p" / "single"
    p.mkdir(parents=True)
    (p / "only.png").symlink_to(shared_data / "photos" / "templeSparseRing" / "templeSR0001.png")
    res = CliRunner().invoke(cli, ["-q", "match", str(tmp_path / "p"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1 and "no object was written" in res.output and "fewer than 2 readable" in res.output
    (tmp_path / "empty").mkdir()
    res = CliRunner().invoke(cli, ["-q", "match", str(tmp_path / "empty"), "--out", str(tmp_path / "out2")])
    assert res.exit_code == 1, res.output


def test_config_json_and_a_rerun_keeps_nothing_of_the_last(shared_data, tmp_path):
    """config.json beside manifest.json (readers ignore it); a re-run into the same --out starts
    from nothing; an --out another job's config.json claims is refused before any work."""
    from pointkit.match.settings import MatchJob
    from pointkit_cli.main import cli

    src = shared_data / "photos" / "dinoSparseRing"
    for cluster in ("a", "b"):
        (tmp_path / "p" / cluster).mkdir(parents=True)
        for f in ("dinoSR0001.png", "dinoSR0002.png"):
            (tmp_path / "p" / cluster / f).symlink_to(src / f)
    out = tmp_path / "out"
    args = ["-q", "match", str(tmp_path / "p"), "--out", str(out), "--resolution", "64", "--max-size", "320"]
    assert CliRunner().invoke(cli, args).exit_code == 0
    saved = json.loads((out / "config.json").read_text())
    assert saved["job"] == "match" and MatchJob(**saved["config"]) == MatchJob(
        photos=str(tmp_path / "p"), out=str(out), resolution=64, max_size=320
    )
    assert Dataset.open(out).split("all") == ["a", "b"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["settings"]) == {f for f in saved["config"] if f not in ("photos", "out")}
    (tmp_path / "p" / "b" / "dinoSR0002.png").unlink()  # b now fails: nothing of it may stay
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 1 and "1 photos or clusters failed" in res.output, res.output
    assert Dataset.open(out).split("all") == ["a"]
    assert sorted(p.name for p in (out / "objects").iterdir()) == ["a.npz"]
    assert sorted(p.name for p in (out / "previews").iterdir()) == ["a.png"]
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"job": "train", "config": {}}))
    res = CliRunner().invoke(cli, ["match", str(tmp_path / "p"), "--out", str(run)])
    assert res.exit_code == 1 and "belongs to a 'train' job" in res.stderr and len(res.stderr.splitlines()) == 1
    assert sorted(p.name for p in run.iterdir()) == ["config.json"]


def test_pair_cache_matches_only_new_pairs_and_gives_the_fresh_dataset(shared_data, tmp_path):
    """With a pair cache, a re-run after a photo is added matches only its pairs (3 of 6), and the
    dataset is byte for byte the one a fresh run on the 4 photos writes, also in another cluster
    name: a pair's result depends on its two photos and the settings alone."""
    src = shared_data / "photos" / "dinoSparseRing"
    settings = MatchSettings(resolution=64, max_size=320, seed=1)
    photos = tmp_path / "p" / "d"
    photos.mkdir(parents=True)
    names = [f"dinoSR{i:04d}.png" for i in (1, 2, 3, 4)]
    for f in names[:3]:
        (photos / f).symlink_to(src / f)
    cache = tmp_path / "cache"
    first = build_matched_dataset(tmp_path / "p", tmp_path / "a", settings, progress=False, cache=cache)
    assert first["pairs_from_cache"] == 0 and len(list(cache.glob("*.npz"))) == 3
    (photos / names[3]).symlink_to(src / names[3])
    again = build_matched_dataset(tmp_path / "p", tmp_path / "a", settings, progress=False, cache=cache)
    assert again["pairs_from_cache"] == 3 and len(list(cache.glob("*.npz"))) == 6
    (tmp_path / "q" / "other").mkdir(parents=True)
    for f in names:
        (tmp_path / "q" / "other" / f).symlink_to(src / f)
    fresh = build_matched_dataset(tmp_path / "q", tmp_path / "b", settings, progress=False)
    assert "pairs_from_cache" not in fresh
    assert {k: v for k, v in again.items() if k not in ("out", "pairs_from_cache")} == {
        k: v for k, v in fresh.items() if k != "out"
    }
    a, b = Dataset.open(tmp_path / "a").read("d"), Dataset.open(tmp_path / "b").read("other")
    for key in ("images", "masks", "pairs", "pair_offsets", "uv_src", "uv_tgt"):
        assert getattr(a, key).tobytes() == getattr(b, key).tobytes(), key
    # Other settings are other results: nothing is taken from the cache.
    other = MatchSettings(resolution=64, max_size=320, seed=2)
    assert (
        build_matched_dataset(tmp_path / "p", tmp_path / "c", other, progress=False, cache=cache)["pairs_from_cache"]
        == 0
    )
    # A damaged entry is matched again.
    for entry in cache.glob("*.npz"):
        entry.write_bytes(b"junk")
    assert (
        build_matched_dataset(tmp_path / "p", tmp_path / "a", settings, progress=False, cache=cache)["pairs_from_cache"]
        == 0
    )
