"""Decoding untrusted image files: every bad input gets a stable code and a message naming it."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sputnik_edge.vision.imageio import ImageError, decode_image, load_image, sniff_format


def png_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A 1x1 PNG whose IHDR is patched to declare width x height (CRC fixed up)."""
    data = bytearray(png_bytes(Image.new("RGB", (1, 1))))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def expect_error(path: Path, code: str) -> ImageError:
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.code == code, str(info.value)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)
    return info.value


def test_real_jpeg_decodes_to_bgr(faces_dir: Path) -> None:
    path = faces_dir / "images" / "barack_obama" / "obama.jpg"
    img = load_image(path)
    with Image.open(path) as pil:
        w, h = pil.size
        rgb = np.asarray(pil.convert("RGB"))
    assert img.shape == (h, w, 3)
    assert img.dtype == np.uint8
    assert np.array_equal(img[:, :, ::-1], rgb)


def test_missing_file(tmp_path: Path) -> None:
    err = expect_error(tmp_path / "nope.jpg", "missing")
    assert "not found" in str(err)


def test_directory(tmp_path: Path) -> None:
    err = expect_error(tmp_path, "missing")
    assert "directory" in str(err)


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture\n")
    err = expect_error(path, "not_an_image")
    assert "not an image" in str(err)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    expect_error(path, "empty")


def test_truncated_jpeg(tmp_path: Path, faces_dir: Path) -> None:
    data = (faces_dir / "images" / "barack_obama" / "obama.jpg").read_bytes()
    path = tmp_path / "half.jpg"
    path.write_bytes(data[: len(data) // 2])
    err = expect_error(path, "truncated")
    assert "JPEG" in str(err)


def test_one_pixel_png(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(png_bytes(Image.new("RGB", (1, 1), (200, 10, 10))))
    err = expect_error(path, "too_small")
    assert "1x1" in str(err)


def test_gif_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "anim.gif"
    Image.new("P", (200, 200)).save(path, format="GIF")
    assert sniff_format(path.read_bytes()) == "GIF"
    err = expect_error(path, "unsupported_type")
    assert "GIF" in str(err)


def test_format_judged_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "photo.gif"  # misleading suffix, PNG content
    path.write_bytes(png_bytes(Image.new("RGB", (64, 48), (0, 0, 255))))
    img = load_image(path)
    assert img.shape == (48, 64, 3)
    assert tuple(img[0, 0]) == (255, 0, 0)  # BGR


def test_rgba_png_decodes_to_three_channels(tmp_path: Path, face_labels: list[tuple[Path, str]]) -> None:
    rgba = []
    for p, _ in face_labels:
        if p.suffix == ".png":
            with Image.open(p) as pil:
                if pil.mode == "RGBA":
                    rgba.append(p)
    assert rgba, "the dev set has RGBA PNGs"
    img = load_image(rgba[0])
    assert img.ndim == 3
    assert img.shape[2] == 3
    own = tmp_path / "red.png"
    own.write_bytes(png_bytes(Image.new("RGBA", (40, 40), (255, 0, 0, 128))))
    assert tuple(load_image(own)[5, 5]) == (0, 0, 255)


def test_exif_rotation_is_honoured(tmp_path: Path) -> None:
    stored = Image.new("RGB", (80, 40), (0, 0, 0))
    stored.paste((255, 255, 255), (0, 0, 20, 20))  # white block at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90 degrees clockwise to display
    path = tmp_path / "phone.jpg"
    stored.save(path, format="JPEG", exif=exif, quality=95)
    img = load_image(path)
    assert img.shape == (80, 40, 3)  # upright: tall, not wide
    assert img[5, 35].mean() > 200  # the block moved to the top-right
    assert img[5, 5].mean() < 50


def test_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    data = bomb_png(50_000, 50_000)
    with Image.open(io.BytesIO(data)) as pil:
        assert pil.size == (50_000, 50_000)  # the crafted header is what Pillow reads
    path = tmp_path / "bomb.png"
    path.write_bytes(data)
    err = expect_error(path, "too_large")
    assert "50000x50000" in str(err)


def test_max_pixels_is_configurable() -> None:
    data = png_bytes(Image.new("RGB", (100, 100)))
    assert decode_image(data, max_pixels=10_000).width == 100
    with pytest.raises(ImageError) as info:
        decode_image(data, max_pixels=9_999, name="upload")
    assert info.value.code == "too_large"
    assert "upload" in str(info.value)


def test_corrupt_png_body(tmp_path: Path) -> None:
    data = bytearray(png_bytes(Image.new("RGB", (64, 64), (10, 200, 30))))
    idat = data.index(b"IDAT")
    data[idat + 8 : idat + 20] = b"\x00" * 12
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError) as info:
        load_image(path)
    assert info.value.code in {"corrupt", "truncated"}
    assert str(path) in str(info.value)
