"""CaptureThread on file sources and unreachable addresses: slot semantics, fps limit, pacing, looping."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sputnik_edge.capture.thread import CameraStatus, CaptureThread
from tests.support.waiting import wait_until
from tests.unit.capture.test_sources import LEVELS, level_of, write_numbered_clip


@pytest.fixture
def numbered_clip(tmp_path: Path) -> Path:
    return write_numbered_clip(tmp_path / "numbered.avi")


@pytest.fixture
def start_capture() -> Iterator[Callable[..., CaptureThread]]:
    """Starts CaptureThreads; all are stopped and joined at teardown, also when a test fails."""
    started: list[tuple[CaptureThread, threading.Event]] = []

    def start(source: str, **kwargs: object) -> CaptureThread:
        stop = threading.Event()
        thread = CaptureThread("cam1", source, stop, **kwargs)  # type: ignore[arg-type]
        started.append((thread, stop))
        thread.start()
        return thread

    yield start
    for _thread, stop in started:
        stop.set()
    for thread, _ in started:
        thread.join(timeout=10)


def test_frames_are_numbered_stamped_and_looped(
    start_capture: Callable[..., CaptureThread], numbered_clip: Path
) -> None:
    cam = start_capture(str(numbered_clip))
    seen: list[int] = []
    last = 0
    while len(seen) < 25:
        frame = cam.get_frame(last, timeout=5)
        assert frame is not None
        assert frame.seq > last
        assert frame.camera_id == "cam1"
        assert frame.wall_time.utcoffset() == timedelta(0)
        assert frame.mono <= time.monotonic()
        seen.append(level_of(frame.image))
        last = frame.seq
    # Taken promptly, every frame is seen in order, and the clip starts over after its 10 frames.
    assert last == 25
    assert seen == (LEVELS * 3)[:25]
    status = cam.status()
    assert status.state == "up"
    assert status.kind == "file"
    assert (status.width, status.height) == (64, 48)
    assert status.reconnects == 0
    assert status.last_frame_age_s is not None and status.last_frame_age_s < 5


def test_slow_consumer_gets_only_the_newest_frame_and_drops_are_counted(
    start_capture: Callable[..., CaptureThread], numbered_clip: Path
) -> None:
    cam = start_capture(str(numbered_clip))
    first = cam.get_frame(0, timeout=5)
    assert first is not None
    # Nobody takes frames until a few more have been published (at 30 fps).
    assert wait_until(lambda: cam.status().last_seq >= first.seq + 4, timeout=5)
    published = cam.status().last_seq
    newest = cam.get_frame(first.seq, timeout=5)
    assert newest is not None
    assert newest.seq >= published  # the newest, not the next one after the frame taken
    status = cam.status()
    skipped_over = newest.seq - first.seq - 1
    assert skipped_over >= 3
    assert status.frames_dropped >= skipped_over
    # The slot holds exactly one frame: asking again never hands back a stale one.
    again = cam.get_frame(newest.seq, timeout=5)
    assert again is not None and again.seq > newest.seq
    assert cam.get_frame(10**9, timeout=0.05) is None


def test_fps_limit_skips_and_counts_frames(
    start_capture: Callable[..., CaptureThread], numbered_clip: Path
) -> None:
    cam = start_capture(str(numbered_clip), fps_limit=5)
    first = cam.get_frame(0, timeout=5)
    assert first is not None
    started = first.mono
    last = first
    while last.mono - started < 2.0:
        frame = cam.get_frame(last.seq, timeout=5)
        assert frame is not None
        assert frame.seq == last.seq + 1  # a fast consumer takes every published frame
        last = frame
    status = cam.status()
    published = last.seq - first.seq
    assert published <= 5 * (last.mono - started) + 2
    assert status.frames_skipped >= 20  # about 50 of 60 input frames in 2 s
    assert status.frames_dropped == 0
    assert status.frames_read >= last.seq + status.frames_skipped - 1


def test_file_without_loop_ends_and_stops(
    start_capture: Callable[..., CaptureThread], numbered_clip: Path
) -> None:
    cam = start_capture(str(numbered_clip), loop_file=False)
    cam.join(timeout=10)
    assert not cam.is_alive()
    status = cam.status()
    assert status.state == "stopped"
    assert status.frames_read == 10
    # A consumer waiting on a stopped camera is released at once instead of waiting out its timeout.
    started = time.monotonic()
    assert cam.get_frame(10, timeout=30) is None
    assert time.monotonic() - started < 5


def test_stop_event_stops_the_thread_promptly(numbered_clip: Path) -> None:
    stop = threading.Event()
    cam = CaptureThread("cam2", str(numbered_clip), stop)
    cam.start()
    try:
        assert cam.get_frame(0, timeout=5) is not None
    finally:
        stop.set()
        cam.join(timeout=1)
    assert not cam.is_alive()
    assert cam.status().state == "stopped"


def test_unreachable_camera_is_down_with_backoff_and_no_leaked_password(
    start_capture: Callable[..., CaptureThread],
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    source = f"rtsp://admin:Sup3rS3cret@127.0.0.1:{port}/stream"
    with capture_logs() as logs:
        cam = start_capture(source, open_timeout_s=1, backoff_initial_s=0.1, backoff_max_s=0.4)
        assert wait_until(lambda: cam.status().open_failures >= 3, timeout=10)
    status = cam.status()
    assert status.state == "down"
    assert status.last_error is not None and "open failed" in status.last_error
    assert status.frames_read == 0 and status.last_frame_age_s is None
    assert "Sup3rS3cret" not in repr(status)
    assert status.source == f"rtsp://***@127.0.0.1:{port}/stream"
    failures = [e for e in logs if e["event"] == "camera_open_failed"]
    assert failures and failures[0]["camera_id"] == "cam1"
    assert "Sup3rS3cret" not in repr(logs)


def test_bad_source_is_rejected_at_construction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing"):
        CaptureThread("cam1", str(tmp_path / "missing.mp4"), threading.Event())
    with pytest.raises(ValueError, match="fps_limit"):
        CaptureThread("cam1", "usb:0", threading.Event(), fps_limit=-1)


@pytest.mark.slow
def test_real_clip_is_paced_and_keeps_counting_past_its_end(
    start_capture: Callable[..., CaptureThread], clip_path: Path
) -> None:
    cam = start_capture(str(clip_path))
    first = cam.get_frame(0, timeout=10)
    assert first is not None
    assert first.image.shape == (360, 640, 3)
    # 29.97 fps: 30 frames take about a second, not the tenth of it an unpaced decoder would.
    last = first
    while last.seq < first.seq + 30:
        frame = cam.get_frame(last.seq, timeout=5)
        assert frame is not None
        last = frame
    frames, elapsed = last.seq - first.seq, last.mono - first.mono
    assert 0.8 * frames / 29.97 <= elapsed <= 3.0, (frames, elapsed)
    status: CameraStatus = cam.status()
    assert 15 <= status.fps_in <= 40
    # The clip has 275 frames; looping keeps the sequence (and pictures) going past it.
    deadline = time.monotonic() + 20
    while last.seq <= 300 and time.monotonic() < deadline:
        frame = cam.get_frame(last.seq, timeout=5)
        assert frame is not None
        last = frame
    assert last.seq > 300
    assert cam.status().state == "up"
