"""Clip reading for enrolment: container sniffing, sampling, and the limits that bound decoding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.vision.videoio import VideoError, sampled_frames, sniff_container
from tests.support.clips import write_clip


def numbered(n: int, shape: tuple[int, int] = (48, 64)) -> list[np.ndarray]:
    """Frames whose grey level encodes their number, to see which ones came back."""
    return [np.full((*shape, 3), 10 * i, np.uint8) for i in range(n)]


def test_sniff_container() -> None:
    assert sniff_container(b"\x1a\x45\xdf\xa3" + b"\x00" * 8) == "webm"
    assert sniff_container(b"\x00\x00\x00\x18ftypmp42") == "mp4"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI ") == "avi"
    assert sniff_container(b"\xff\xd8\xff\xe0 jpeg....") is None
    assert sniff_container(b"") is None


def test_sampling_range_and_limits(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "c.avi", numbered(20), fps=20.0)
    got = [i for i, _ in sampled_frames(clip, sample_fps=10.0)]
    assert got == list(range(0, 20, 2))  # 20 fps sampled at 10: every second frame
    frames = dict(sampled_frames(clip, sample_fps=10.0, first=5, last=11))
    assert list(frames) == [5, 7, 9, 11]
    assert abs(float(frames[7].mean()) - 70) < 6  # the frame it says it is
    assert [i for i, _ in sampled_frames(clip, sample_fps=20.0, max_frames_read=4)] == [0, 1, 2, 3]
    with pytest.raises(VideoError, match="exceed 1000 pixels") as e:
        list(sampled_frames(clip, max_pixels=1000))
    assert e.value.code == "too_large"


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.webm"
    bad.write_bytes(b"\x1a\x45\xdf\xa3 not really")
    with pytest.raises(VideoError, match=r"bad\.webm") as e:
        list(sampled_frames(bad, name="bad.webm"))
    assert e.value.code == "unreadable"
