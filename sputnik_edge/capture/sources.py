"""Camera sources: parse the configured source string and open an OpenCV capture for it."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import cv2
import numpy as np
import structlog

from sputnik_edge.redaction import redact_url

log = structlog.get_logger(__name__)

SourceKind = Literal["rtsp", "usb", "file", "http"]

# TCP interleaving survives NAT and firewalls; the tiny probe cuts the first open from ~1.2 s to ~0.1 s.
RTSP_CAPTURE_OPTIONS = "rtsp_transport;tcp|analyzeduration;0|probesize;32"
_FFMPEG_OPTIONS_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_SCHEME = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://")
_USB = re.compile(r"^usb:(?P<index>\d+)$")
_DEV_VIDEO = re.compile(r"^/dev/video(?P<index>\d+)$")
_DEFAULT_FILE_FPS = 25.0

# What open_capture returns: both offer isOpened(), read(), get(prop) and release().
VideoSource: TypeAlias = "cv2.VideoCapture | PacedFileCapture"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed camera source. ``uri`` is the real address (may hold credentials); show ``display``."""

    kind: SourceKind
    uri: str
    index: int | None
    display: str


def parse_source(source: str) -> SourceSpec:
    """Parse ``rtsp(s)://``, ``http(s)://`` (MJPEG), ``usb:N``, ``/dev/videoN`` or a video file path."""
    text = source.strip()
    if not text:
        raise ValueError("camera source is empty")
    display = redact_url(text)
    scheme_match = _SCHEME.match(text)
    if scheme_match:
        scheme = scheme_match.group("scheme").lower()
        if scheme in {"rtsp", "rtsps"}:
            return SourceSpec("rtsp", text, None, display)
        if scheme in {"http", "https"}:
            return SourceSpec("http", text, None, display)
        if scheme == "file":
            return _file_spec(text[len("file://") :])
        raise ValueError(
            f"unsupported camera source {display!r}: expected rtsp://, rtsps://, http(s)://, usb:N, "
            "/dev/videoN or a video file path"
        )
    usb = _USB.match(text)
    if usb:
        return SourceSpec("usb", text, int(usb.group("index")), text)
    if text.lower().startswith("usb:"):
        raise ValueError(f"bad USB camera source {text!r}: expected usb:N with N a device number, e.g. usb:0")
    dev = _DEV_VIDEO.match(text)
    if dev:
        return SourceSpec("usb", text, int(dev.group("index")), text)
    return _file_spec(text)


def _file_spec(path_text: str) -> SourceSpec:
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ValueError(f"camera source video file not found: {path}")
    return SourceSpec("file", str(path), None, str(path))


def open_capture(
    spec: SourceSpec, *, open_timeout_s: float, read_timeout_s: float, loop: bool = False
) -> VideoSource:
    """Open ``spec``; the result may not be opened (check ``isOpened()``).

    Network opens are bounded by ``open_timeout_s`` and every read by ``read_timeout_s``; without
    them a server that accepts but never answers blocks for 30 s. File sources come back paced to
    their fps (a plain file decodes as fast as the CPU allows) and, with ``loop``, restart at the end.
    """
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        max(1, int(open_timeout_s * 1000)),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        max(1, int(read_timeout_s * 1000)),
    ]
    if spec.kind == "file":
        return PacedFileCapture(spec.uri, loop=loop)
    if spec.kind == "usb":
        if spec.index is None:
            raise ValueError(f"USB camera source {spec.display!r} has no device index")
        return cv2.VideoCapture(spec.index, cv2.CAP_ANY, params)
    # The variable is read at every FFmpeg open and is process-wide: it is only ever set to one value
    # (harmless for HTTP), so concurrent opens of different cameras cannot race; an operator's own
    # setting wins.
    os.environ.setdefault(_FFMPEG_OPTIONS_ENV, RTSP_CAPTURE_OPTIONS)
    return cv2.VideoCapture(spec.uri, cv2.CAP_FFMPEG, params)


class PacedFileCapture:
    """A video file read at its own frame rate, optionally looping, like a camera would deliver it.

    Wraps rather than subclasses cv2.VideoCapture: OpenCV 5.0's Python subclasses segfault when
    garbage-collected. Offers the part of the VideoCapture surface the capture thread uses.
    """

    def __init__(self, path: str, *, loop: bool) -> None:
        self._cap = cv2.VideoCapture(path, cv2.CAP_ANY)
        self._loop = loop
        fps = float(self._cap.get(cv2.CAP_PROP_FPS)) if self._cap.isOpened() else 0.0
        # Some containers report 0 or absurd rates; a sane default keeps pacing meaningful.
        self.fps = fps if 0.5 <= fps <= 240 else _DEFAULT_FILE_FPS
        self._period = 1.0 / self.fps
        self._start: float | None = None
        self._count = 0

    def isOpened(self) -> bool:
        return bool(self._cap.isOpened())

    def get(self, prop: int) -> float:
        return float(self._cap.get(prop))

    def release(self) -> None:
        self._cap.release()

    def read(self) -> tuple[bool, np.ndarray | None]:
        ok, frame = self._cap.read()
        if not ok and self._loop and self._count > 0:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok:
            return False, None
        now = time.monotonic()
        if self._start is None or now - (self._start + self._count * self._period) > 5 * self._period:
            # First frame, or the consumer fell far behind: restart the schedule instead of bursting.
            self._start = now - self._count * self._period
        due = self._start + self._count * self._period
        if due > now:
            time.sleep(due - now)
        self._count += 1
        return True, np.asarray(frame)
