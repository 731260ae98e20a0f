"""The per-camera pipeline thread: newest frame from the capture thread -> engine -> outbox."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import structlog

from sputnik_edge.attendance.policy import CameraInfo
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.capture.thread import CaptureThread
from sputnik_edge.logging import bind_context
from sputnik_edge.pipeline.engine import AttendanceEngine
from sputnik_edge.pipeline.preview import PreviewSlot

log = structlog.get_logger(__name__)


class CameraWorker(threading.Thread):
    """Takes the newest frame from one capture thread and runs it through the engine."""

    def __init__(
        self,
        camera: CameraInfo,
        capture: CaptureThread,
        engine: AttendanceEngine,
        tracker: IouTracker,
        beat: Callable[[str], None],
        stop_event: threading.Event,
    ) -> None:
        super().__init__(name=f"pipeline-{camera.camera_id}", daemon=True)
        self.camera = camera
        self.capture = capture
        self.engine = engine
        self.tracker = tracker
        self.beat = beat
        self.stop_event = stop_event
        self.part = f"pipeline:{camera.camera_id}"
        self.capture_part = f"capture:{camera.camera_id}"
        self.frames = 0
        self.last_error: str | None = None
        self._last_seq = 0
        self._done: deque[float] = deque(maxlen=60)  # monotonic end times of recent frames
        self.preview = PreviewSlot()

    @property
    def fps_processed(self) -> float:
        done = list(self._done)
        if len(done) < 2 or time.monotonic() - done[-1] > 2.0:
            return 0.0
        return (len(done) - 1) / max(done[-1] - done[0], 1e-6)

    def _beat(self) -> None:
        self.beat(self.part)
        # The capture thread is alive if its loop turned recently; blocking calls in it are
        # bounded by the open/read timeouts, so a longer silence means it is hung.
        if self.capture.is_alive():
            self.beat(self.capture_part)

    def run(self) -> None:
        bind_context(camera_id=self.camera.camera_id)
        while not self.stop_event.is_set():
            self._beat()
            frame = self.capture.get_frame(self._last_seq, timeout=0.5)
            try:
                if frame is None:
                    # Let tracks of people who left end even when the camera delivers nothing.
                    if self.tracker.tracks:
                        self.engine.tick(self.camera, self.tracker)
                    continue
                self._last_seq = frame.seq
                out = self.engine.process_frame(
                    self.camera, self.tracker, frame.image, frame.wall_time, frame.mono
                )
                self.preview.update(frame.image, out.faces, frame.wall_time)
                self.frames += 1
                self._done.append(time.monotonic())
                self.last_error = None
            except Exception as exc:  # one bad frame (or a failed commit) must not kill the camera
                self.last_error = str(exc)
                log.exception("frame_failed", camera_id=self.camera.camera_id, seq=self._last_seq)
        # Finish what is in hand: open tracks become events before the store closes.
        try:
            self.engine.flush(self.camera, self.tracker)
        except Exception:
            log.exception("flush_failed", camera_id=self.camera.camera_id)
