"""Reading a short clip for enrolment: the container sniffed from its first bytes, frames sampled at
about ``sample_fps``, with limits on frame size and length so a hostile upload cannot make the
decoder run away. The file must be on disk (OpenCV's FFmpeg backend reads paths, not bytes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from sputnik_edge.vision.types import ImageArray

# Containers an enrolment clip may come in (phones: MP4/MOV; browsers' MediaRecorder: WebM).
CLIP_FORMATS = ("webm", "mp4", "avi")


class VideoError(ValueError):
    """A clip that cannot be read; ``code`` is stable (not_a_video, unreadable, too_large, empty)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def sniff_container(head: bytes) -> str | None:
    """webm (Matroska/EBML), mp4 (ISO BMFF, MOV too) or avi (RIFF AVI) from the first 12 bytes."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def sampled_frames(
    path: Path,
    *,
    sample_fps: float = 10.0,
    first: int = 0,
    last: int | None = None,
    max_frames_read: int | None = None,
    max_pixels: int | None = None,
    name: str | None = None,
) -> Iterator[tuple[int, ImageArray]]:
    """(frame number, BGR frame) of about ``sample_fps`` frames a second from ``first`` to ``last``;
    reading stops after ``max_frames_read`` frames. VideoError when the file cannot be opened or a
    frame is larger than ``max_pixels``."""
    label = name or str(path)
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError("unreadable", f"{label}: not a video this build can read")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    stride = max(1, round((fps if 1.0 <= fps <= 240.0 else 25.0) / sample_fps))
    try:
        i = 0
        while (last is None or i <= last) and (max_frames_read is None or i < max_frames_read):
            ok, img = cap.read()
            if not ok or img is None:
                break
            if max_pixels is not None and img.shape[0] * img.shape[1] > max_pixels:
                raise VideoError(
                    "too_large",
                    f"{label}: frames of {img.shape[1]}x{img.shape[0]} exceed {max_pixels} pixels",
                )
            if i >= first and (i - first) % stride == 0:
                yield i, np.asarray(img, dtype=np.uint8)
            i += 1
    finally:
        cap.release()
