"""CaptureThread against a real GStreamer RTSP server: frames, crash, restart, freeze, silence, secrets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from structlog.testing import capture_logs

from sputnik_edge.capture.sources import open_capture, parse_source
from sputnik_edge.capture.thread import CaptureThread, Frame
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.cameras import RtspServer

pytestmark = pytest.mark.integration

FAST = {"open_timeout_s": 3.0, "read_timeout_s": 2.0, "backoff_initial_s": 0.2, "backoff_max_s": 1.0}


@pytest.fixture
def start_capture() -> Iterator[Callable[..., CaptureThread]]:
    started: list[tuple[CaptureThread, threading.Event]] = []

    def start(source: str, **kwargs: float) -> CaptureThread:
        stop = threading.Event()
        thread = CaptureThread("door", source, stop, **{**FAST, **kwargs})  # type: ignore[arg-type]
        started.append((thread, stop))
        thread.start()
        return thread

    yield start
    for _thread, stop in started:
        stop.set()
    for thread, _stop in started:
        thread.join(timeout=10)


def next_frame(cam: CaptureThread, after: int, timeout: float = 10) -> Frame:
    frame = cam.get_frame(after, timeout=timeout)
    if frame is None:
        pytest.fail(f"no frame after seq {after} within {timeout}s; status {cam.status()}")
    return frame


def test_frames_survive_a_server_crash_and_restart(
    rtsp_server: Callable[..., RtspServer], start_capture: Callable[..., CaptureThread]
) -> None:
    server = rtsp_server()
    cam = start_capture(server.url())
    frame = next_frame(cam, 0)
    assert frame.image.shape == (360, 640, 3)
    frame = next_frame(cam, frame.seq)
    assert cam.status().state == "up"

    server.kill()
    assert wait_until(lambda: cam.status().state == "down", timeout=5), cam.status()
    down = cam.status()
    assert down.last_error is not None
    assert down.last_seq >= frame.seq

    server.start()  # same port
    resumed = next_frame(cam, down.last_seq, timeout=15)
    assert resumed.image.shape == (360, 640, 3)
    assert cam.is_alive()
    status = cam.status()
    assert status.state == "up"
    assert status.reconnects >= 1


def test_frozen_server_is_detected_as_a_stall_and_recovers(
    rtsp_server: Callable[..., RtspServer], start_capture: Callable[..., CaptureThread]
) -> None:
    server = rtsp_server()
    cam = start_capture(server.url(), read_timeout_s=1.5, open_timeout_s=1.5)
    frame = next_frame(cam, 0)
    server.freeze()
    # A frozen server makes read() block for the read timeout (1.5 s) and then return buffered frames.
    assert wait_until(lambda: cam.status().state == "down", timeout=6), cam.status()
    assert any(word in (cam.status().last_error or "") for word in ("stalled", "read failed"))
    stalled_at = cam.last_progress
    last_seq = cam.status().last_seq
    assert last_seq >= frame.seq
    # The loop goes on (its backoff wait ends, a reopen starts: the heartbeat moves), but while the
    # stream is frozen that is no progress, which is what the watchdog tells a hung camera by.
    assert wait_until(lambda: cam.last_heartbeat > stalled_at, timeout=5)
    assert cam.last_progress == stalled_at
    assert cam.status().last_seq == last_seq
    server.thaw()
    resumed = next_frame(cam, last_seq, timeout=15)
    assert resumed.seq > last_seq
    assert wait_until(lambda: cam.status().state == "up", timeout=5)
    assert cam.status().reconnects >= 1
    assert cam.last_progress > stalled_at


def test_server_that_never_answers_fails_within_the_open_timeout(
    silent_tcp_port: int, start_capture: Callable[..., CaptureThread]
) -> None:
    spec = parse_source(f"rtsp://127.0.0.1:{silent_tcp_port}/stream")
    started = time.monotonic()
    cap = open_capture(spec, open_timeout_s=1.0, read_timeout_s=1.0)
    elapsed = time.monotonic() - started
    opened = cap.isOpened()
    cap.release()
    assert not opened
    assert elapsed < 1.0 + 2.0  # without the open timeout FFmpeg waits 30 s

    cam = start_capture(spec.uri, open_timeout_s=1.0)
    assert wait_until(lambda: cam.status().open_failures >= 1, timeout=5), cam.status()
    assert cam.status().state == "down"
    assert "open failed" in (cam.status().last_error or "")


def test_credentials_work_and_never_leak(
    rtsp_server: Callable[..., RtspServer], start_capture: Callable[..., CaptureThread]
) -> None:
    secret = "Pa55w0rdXYZ"
    server = rtsp_server(user="cam", password=secret)
    with capture_logs() as logs:
        good = start_capture(server.url())
        next_frame(good, 0)
        bad = start_capture(server.url().replace(secret, "wrongwrong"))
        unauthenticated = start_capture(server.url(credentials=False))
        assert wait_until(lambda: bad.status().open_failures >= 1, timeout=5)
        assert wait_until(lambda: unauthenticated.status().open_failures >= 1, timeout=5)
        server.kill()
        assert wait_until(lambda: good.status().state == "down", timeout=5)
    assert bad.status().state == "down"
    assert unauthenticated.status().frames_read == 0
    for cam in (good, bad):
        text = repr(cam.status())
        assert secret not in text and "wrongwrong" not in text
        assert cam.status().source.startswith("rtsp://***@127.0.0.1:")
    assert logs, "expected capture log events"
    assert secret not in repr(logs) and "wrongwrong" not in repr(logs)
    assert {"camera_up", "camera_open_failed", "camera_read_failed"} <= {e["event"] for e in logs}


def test_stop_is_prompt_while_streaming(rtsp_server: Callable[..., RtspServer]) -> None:
    server = rtsp_server()
    stop = threading.Event()
    cam = CaptureThread("door", server.url(), stop, **FAST)  # type: ignore[arg-type]
    cam.start()
    try:
        next_frame(cam, 0)
    finally:
        stop.set()
        cam.join(timeout=2)
    assert not cam.is_alive()
    assert cam.status().state == "stopped"
