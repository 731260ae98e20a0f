"""CaptureThread against a real MJPEG-over-HTTP server (stands in for USB and HTTP cameras)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from sputnik_edge.capture.thread import CaptureThread
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from tests.support.cameras import MjpegServer

pytestmark = pytest.mark.integration


def test_mjpeg_frames_and_reconnect(mjpeg_server: Callable[[], MjpegServer]) -> None:
    server = mjpeg_server()
    stop = threading.Event()
    cam = CaptureThread(
        "lobby",
        server.url(),
        stop,
        open_timeout_s=2,
        read_timeout_s=2,
        backoff_initial_s=0.2,
        backoff_max_s=1,
    )
    cam.start()
    try:
        frame = cam.get_frame(0, timeout=10)
        assert frame is not None
        assert frame.image.shape == (360, 640, 3)
        status = cam.status()
        assert (status.kind, status.state, status.width, status.height) == ("http", "up", 640, 360)

        server.kill()
        assert wait_until(lambda: cam.status().state == "down", timeout=5), cam.status()
        last_seq = cam.status().last_seq

        server.start()  # same port
        resumed = cam.get_frame(last_seq, timeout=15)
        assert resumed is not None, cam.status()
        assert resumed.seq > last_seq
        assert cam.status().reconnects >= 1
        assert cam.status().state == "up"
    finally:
        stop.set()
        cam.join(timeout=5)
    assert not cam.is_alive()
