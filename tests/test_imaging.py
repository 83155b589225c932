"""pointkit.imaging: every common image file in, upright 8-bit RGB out; bad files -> one-line PointkitError."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from pointkit.errors import PointkitError
from pointkit.imaging import from_array, load_image


def blocks(h=24, w=32, seed=0, size=8) -> np.ndarray:
    """(h, w, 3) uint8 of flat colour blocks (lossy codecs keep them close)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (h // size, w // size, 3), dtype=np.uint8)
    return small.repeat(size, 0).repeat(size, 1)


@pytest.mark.parametrize("suffix, lossless", [(".png", True), (".tif", True), (".jpg", False), (".webp", False)])
def test_formats_round_trip(tmp_path, suffix, lossless):
    rgb = blocks(32, 48, size=16)
    path = tmp_path / f"img{suffix}"
    Image.fromarray(rgb).save(path, **({"quality": 95} if not lossless else {}))
    loaded = load_image(path)
    assert loaded.rgb.dtype == np.uint8 and loaded.rgb.shape == rgb.shape and loaded.alpha is None
    error = np.abs(loaded.rgb.astype(int) - rgb).mean()
    assert error == 0 if lossless else error < 10


def test_grayscale_rgba_16bit(tmp_path):
    gray = blocks()[..., 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    assert (load_image(tmp_path / "g.png").rgb == gray[..., None]).all()

    rgba = np.concatenate([blocks(), np.full((24, 32, 1), 200, np.uint8)], 2)
    rgba[:8, :8, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    loaded = load_image(tmp_path / "a.png")
    assert (loaded.rgb == rgba[..., :3]).all() and (loaded.alpha == rgba[..., 3]).all()

    g16 = (np.arange(24 * 32, dtype=np.uint32).reshape(24, 32) * 85).astype(np.uint16)
    Image.fromarray(g16).save(tmp_path / "g16.png")
    assert (load_image(tmp_path / "g16.png").rgb[..., 1] == (g16 >> 8)).all()

    c16 = blocks().astype(np.uint16) * 257  # 8-bit values stretched to 16 bits
    cv2.imwrite(str(tmp_path / "c16.tif"), c16[..., ::-1])  # OpenCV writes BGR
    assert np.abs(load_image(tmp_path / "c16.tif").rgb.astype(int) - blocks()).max() <= 1


@pytest.mark.parametrize("orientation, turn", [(6, -1), (8, 1), (3, 2)])
def test_exif_orientation(tmp_path, orientation, turn):
    rgb = blocks(32, 64, size=16)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / "o.jpg", exif=exif, quality=95)
    loaded = load_image(tmp_path / "o.jpg").rgb.astype(int)
    expected = np.rot90(rgb, k=turn)  # 6: rotate 90 clockwise to display
    assert loaded.shape == expected.shape
    wrong = np.rot90(rgb, k=turn + 2)  # the same shape, turned the other way
    assert np.abs(loaded - expected).mean() < 10 < np.abs(loaded - wrong).mean()


def _png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))  # noqa: E731
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_bad_files_name_the_file(tmp_path):
    Image.fromarray(blocks()).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    cases = {
        "missing.png": (None, "no such file"),
        "empty.jpg": (b"", "empty"),
        "text.png": (b"hello, not an image\n", "not an image"),
        "truncated.png": (data[: len(data) // 2], "truncated"),
        "huge.png": (_png_header(12000, 12000), "above the limit"),
    }
    for name, (content, words) in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(PointkitError) as info:
            load_image(tmp_path / name)
        message = str(info.value)
        assert name in message and words in message and "\n" not in message


def test_from_array_dtypes():
    assert from_array(np.ones((4, 5), bool)).rgb.max() == 255
    assert from_array(np.full((4, 5, 3), 0.5)).rgb.max() == 128
    assert from_array(np.zeros((4, 5, 4), np.uint8)).alpha.shape == (4, 5)
    with pytest.raises(PointkitError):
        from_array(np.zeros((4, 5, 2)))


def test_colorize_depth_is_viridis_near_yellow_far_purple_black_off_the_object():
    from pointkit.imaging import colorize_depth

    depth = np.tile(np.linspace(1.0, 2.0, 256, dtype=np.float32), (3, 1))
    mask = np.ones_like(depth, bool)
    mask[2] = False
    rgb = colorize_depth(depth, mask)
    assert rgb.shape == (3, 256, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb[0, 0].astype(int) - [253, 231, 37]).max() <= 3  # nearest: viridis' yellow end
    assert np.abs(rgb[0, -1].astype(int) - [68, 1, 84]).max() <= 3  # farthest: its purple end
    assert (rgb[2] == 0).all()
    green = rgb[0, :, 1].astype(int)  # viridis' green rises from far to near
    assert (np.diff(green[::-1]) >= 0).all()
    assert (colorize_depth(depth, np.zeros_like(mask)) == 0).all()
