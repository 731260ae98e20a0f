"""parse_source forms and errors; open_capture's paced, looping file source."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.capture.sources import PacedFileCapture, SourceSpec, open_capture, parse_source

LEVELS = [20 * i for i in range(10)]  # frame i is a flat gray image of level 20*i


def write_numbered_clip(path: Path, fps: float = 30.0) -> Path:
    """A 10-frame MJPG clip whose frames can be told apart by their gray level."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (64, 48))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write MJPG/AVI here")
    for level in LEVELS:
        writer.write(np.full((48, 64, 3), level, np.uint8))
    writer.release()
    return path


def level_of(image: np.ndarray | None) -> int:
    if image is None:
        raise AssertionError("no image")
    return round(float(image.mean()) / 20) * 20


@pytest.fixture
def numbered_clip(tmp_path: Path) -> Path:
    return write_numbered_clip(tmp_path / "numbered.avi")


@pytest.mark.parametrize(
    ("source", "kind", "uri", "index"),
    [
        ("rtsp://10.0.0.5:554/stream1", "rtsp", "rtsp://10.0.0.5:554/stream1", None),
        ("RTSPS://cam.local/s", "rtsp", "RTSPS://cam.local/s", None),
        ("http://10.0.0.7/mjpeg", "http", "http://10.0.0.7/mjpeg", None),
        ("https://cam/video.cgi", "http", "https://cam/video.cgi", None),
        ("usb:0", "usb", "usb:0", 0),
        (" usb:12 ", "usb", "usb:12", 12),
        ("/dev/video2", "usb", "/dev/video2", 2),
    ],
)
def test_parse_source_forms(source: str, kind: str, uri: str, index: int | None) -> None:
    spec = parse_source(source)
    assert (spec.kind, spec.uri, spec.index) == (kind, uri, index)
    assert spec.display == uri


def test_parse_source_file_path_and_file_url(numbered_clip: Path) -> None:
    path = str(numbered_clip)
    assert parse_source(path) == SourceSpec("file", path, None, path)
    assert parse_source(f"file://{numbered_clip}").uri == str(numbered_clip)


def test_parse_source_redacts_credentials() -> None:
    spec = parse_source("rtsp://admin:hunter2@10.0.0.5:554/stream1")
    assert spec.uri == "rtsp://admin:hunter2@10.0.0.5:554/stream1"  # the real address is kept for opening
    assert "hunter2" not in spec.display
    assert "admin" not in spec.display
    assert spec.display == "rtsp://***@10.0.0.5:554/stream1"


def test_parse_source_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.mp4"
    with pytest.raises(ValueError, match=r"nope\.mp4"):
        parse_source(str(missing))


@pytest.mark.parametrize("source", ["ftp://user:topsecret@host/x", "onvif://user:topsecret@cam/profile1"])
def test_parse_source_unknown_scheme_is_named_but_redacted(source: str) -> None:
    with pytest.raises(ValueError, match="unsupported camera source") as info:
        parse_source(source)
    assert "topsecret" not in str(info.value)
    assert source.split("://")[0] in str(info.value)


@pytest.mark.parametrize("source", ["", "   ", "usb:", "usb:abc", "usb:-1"])
def test_parse_source_rejects_bad_values(source: str) -> None:
    with pytest.raises(ValueError):
        parse_source(source)


def test_file_source_is_paced_to_its_fps(numbered_clip: Path) -> None:
    cap = open_capture(parse_source(str(numbered_clip)), open_timeout_s=2, read_timeout_s=2)
    assert isinstance(cap, PacedFileCapture)
    assert cap.fps == pytest.approx(30.0)
    started = time.monotonic()
    for _ in range(10):
        ok, _image = cap.read()
        assert ok
    # Unpaced, ten tiny frames decode in about a millisecond; paced, frame 9 is due at 9/30 s.
    assert time.monotonic() - started >= 9 / 30 - 0.02
    cap.release()


def test_file_source_loops_to_the_first_frame(numbered_clip: Path) -> None:
    cap = open_capture(parse_source(str(numbered_clip)), open_timeout_s=2, read_timeout_s=2, loop=True)
    levels = []
    for _ in range(25):
        ok, image = cap.read()
        assert ok
        levels.append(level_of(image))
    assert levels == (LEVELS * 3)[:25]
    cap.release()


def test_file_source_without_loop_ends(numbered_clip: Path) -> None:
    cap = open_capture(parse_source(str(numbered_clip)), open_timeout_s=2, read_timeout_s=2, loop=False)
    results = [cap.read()[0] for _ in range(11)]
    assert results == [True] * 10 + [False]
    cap.release()
