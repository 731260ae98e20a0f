"""CaptureThread: one camera, a latest-frame slot, reconnects with backoff, stall detection."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import cv2
import numpy as np
import structlog

from sputnik_edge.backoff import Backoff
from sputnik_edge.capture.sources import SourceSpec, VideoSource, open_capture, parse_source
from sputnik_edge.redaction import redact_text

log = structlog.get_logger(__name__)

CameraState = Literal["starting", "up", "down", "stopped"]
_FPS_WINDOW = 30


@dataclass(frozen=True, slots=True)
class Frame:
    camera_id: str
    seq: int
    image: np.ndarray  # BGR, as decoded
    wall_time: datetime  # UTC capture time, for events
    mono: float  # time.monotonic() at capture, for ages and rates


@dataclass(frozen=True, slots=True)
class CameraStatus:
    camera_id: str
    source: str  # redacted
    kind: str
    state: CameraState
    fps_in: float
    last_seq: int  # seq of the newest published frame, 0 before the first
    frames_read: int
    frames_dropped: int  # replaced in the slot before any consumer took them
    frames_skipped: int  # discarded by the fps limit
    last_frame_age_s: float | None
    reconnects: int  # successful re-opens after the first open
    open_failures: int
    last_error: str | None  # redacted
    width: int | None
    height: int | None


class _SourceFailed(Exception):
    """A failed open or read; the message is already redacted."""


class CaptureThread(threading.Thread):
    """Reads one camera into a single latest-frame slot until ``stop_event`` is set.

    Consumers never see a backlog: a new frame replaces an untaken one (counted as dropped), so a
    slow recogniser always works on the newest picture.
    """

    def __init__(
        self,
        camera_id: str,
        source: str,
        stop_event: threading.Event,
        *,
        fps_limit: float = 0,
        open_timeout_s: float = 5.0,
        read_timeout_s: float = 5.0,
        stall_fraction: float = 0.8,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        loop_file: bool = True,
    ) -> None:
        super().__init__(name=f"capture-{camera_id}", daemon=True)
        if fps_limit < 0:
            raise ValueError(f"camera {camera_id}: fps_limit must be >= 0, got {fps_limit}")
        if open_timeout_s <= 0 or read_timeout_s <= 0:
            raise ValueError(f"camera {camera_id}: open_timeout_s and read_timeout_s must be > 0")
        if not 0 < stall_fraction <= 1:
            raise ValueError(f"camera {camera_id}: stall_fraction must be in (0, 1], got {stall_fraction}")
        if backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError(f"camera {camera_id}: need 0 < backoff_initial_s <= backoff_max_s")
        self.camera_id = camera_id
        self.spec: SourceSpec = parse_source(source)
        self._stop_event = stop_event
        self._fps_limit = fps_limit
        self._open_timeout_s = open_timeout_s
        self._read_timeout_s = read_timeout_s
        self._stall_s = stall_fraction * read_timeout_s
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._loop_file = loop_file

        self._cond = threading.Condition()
        self._slot: Frame | None = None
        self._slot_taken = True
        self._seq = 0
        self._state: CameraState = "starting"
        self._frames_read = 0
        self._frames_dropped = 0
        self._frames_skipped = 0
        self._reconnects = 0
        self._open_failures = 0
        self._last_error: str | None = None
        self._last_frame_mono: float | None = None
        self._read_times: deque[float] = deque(maxlen=_FPS_WINDOW)
        self._size: tuple[int, int] | None = None
        self._next_due = 0.0
        # Read by the watchdog. last_progress: last successful read (a camera delivering frames).
        # last_heartbeat: last time the loop turned at all, including failed opens and backoff waits,
        # so a camera that is merely down can be told from a thread hung beyond its timeouts.
        self.last_progress = time.monotonic()
        self.last_heartbeat = self.last_progress

    # Consumer side

    def get_frame(self, after_seq: int, timeout: float) -> Frame | None:
        """Newest frame with ``seq > after_seq``, waiting up to ``timeout`` s; None on timeout or stop."""
        with self._cond:
            self._cond.wait_for(
                lambda: (self._slot is not None and self._slot.seq > after_seq) or self._state == "stopped",
                timeout,
            )
            frame = self._slot
            if frame is None or frame.seq <= after_seq:
                return None
            self._slot_taken = True
            return frame

    def status(self) -> CameraStatus:
        with self._cond:
            times = self._read_times
            span = times[-1] - times[0] if len(times) > 1 else 0.0
            fps = (len(times) - 1) / span if span > 0 else 0.0
            age = None if self._last_frame_mono is None else time.monotonic() - self._last_frame_mono
            return CameraStatus(
                camera_id=self.camera_id,
                source=self.spec.display,
                kind=self.spec.kind,
                state=self._state,
                fps_in=round(fps, 2),
                last_seq=self._seq,
                frames_read=self._frames_read,
                frames_dropped=self._frames_dropped,
                frames_skipped=self._frames_skipped,
                last_frame_age_s=age,
                reconnects=self._reconnects,
                open_failures=self._open_failures,
                last_error=self._last_error,
                width=None if self._size is None else self._size[0],
                height=None if self._size is None else self._size[1],
            )

    # Capture side

    def run(self) -> None:
        backoff = Backoff(self._backoff_initial_s, self._backoff_max_s, jitter=(1.0, 1.1))
        opened_before = False
        try:
            while not self._stop_event.is_set():
                try:
                    cap = self._open()
                except _SourceFailed as e:
                    self._mark_down(str(e), opening=True)
                    self._wait_backoff(backoff.failed())
                    continue
                if opened_before:
                    with self._cond:
                        self._reconnects += 1
                    log.info("camera_reconnected", camera_id=self.camera_id, source=self.spec.display)
                opened_before = True
                try:
                    got_frames = self._read_loop(cap)
                    if got_frames is None:
                        return  # a non-looping file ended
                    if got_frames:
                        backoff.succeeded()
                except _SourceFailed as e:
                    self._mark_down(str(e), opening=False)
                finally:
                    cap.release()
                if not self._stop_event.is_set():
                    self._wait_backoff(backoff.failed())
        except Exception as e:  # never let a camera die silently; the watchdog sees state "stopped"
            log.exception("camera_thread_crashed", camera_id=self.camera_id, error=redact_text(str(e)))
            with self._cond:
                self._last_error = redact_text(f"crashed: {e}")
        finally:
            with self._cond:
                self._state = "stopped"
                self._cond.notify_all()
            log.info("camera_stopped", camera_id=self.camera_id, source=self.spec.display)

    def _open(self) -> VideoSource:
        started = self.last_heartbeat = time.monotonic()
        try:
            cap = open_capture(
                self.spec,
                open_timeout_s=self._open_timeout_s,
                read_timeout_s=self._read_timeout_s,
                loop=self._loop_file,
            )
        except (cv2.error, ValueError, OSError) as e:
            raise _SourceFailed(redact_text(f"open failed: {e}")) from None
        if not cap.isOpened():
            cap.release()
            elapsed = time.monotonic() - started
            raise _SourceFailed(f"open failed after {elapsed:.1f}s")
        self.last_heartbeat = time.monotonic()
        return cap

    def _read_loop(self, cap: VideoSource) -> bool | None:
        """Read until failure or stop. True/False: frames were/weren't read; None: a file ended."""
        got_frames = False
        while not self._stop_event.is_set():
            started = time.monotonic()
            try:
                ok, image = cap.read()
            except cv2.error as e:
                raise _SourceFailed(redact_text(f"read error: {e}")) from None
            now = time.monotonic()
            if not ok or image is None:
                if self.spec.kind == "file" and not self._loop_file and got_frames:
                    log.info("camera_file_ended", camera_id=self.camera_id, source=self.spec.display)
                    return None
                raise _SourceFailed("read failed (stream ended or connection lost)")
            if now - started >= self._stall_s:
                # A frozen server makes read() block for the whole timeout and then still return
                # buffered frames, so a slow read is a dead stream, not a slow one.
                raise _SourceFailed(f"read stalled for {now - started:.1f}s")
            got_frames = True
            self.last_progress = self.last_heartbeat = now
            self._publish(image, now)
        return got_frames

    def _publish(self, image: np.ndarray, now: float) -> None:
        limited = False
        if self._fps_limit > 0:
            interval = 1.0 / self._fps_limit
            # A quarter-interval tolerance absorbs arrival jitter without exceeding the rate on average.
            if now < self._next_due - interval / 4:
                limited = True
            else:
                self._next_due = max(self._next_due + interval, now + interval / 2)
        with self._cond:
            self._frames_read += 1
            self._read_times.append(now)
            self._last_frame_mono = now
            if self._state != "up":
                self._state = "up"
                log.info("camera_up", camera_id=self.camera_id, source=self.spec.display)
            if limited:
                self._frames_skipped += 1
                return
            if not self._slot_taken:
                self._frames_dropped += 1
            self._seq += 1
            self._slot = Frame(self.camera_id, self._seq, image, datetime.now(UTC), now)
            self._slot_taken = False
            self._size = (image.shape[1], image.shape[0])
            self._cond.notify_all()

    def _mark_down(self, error: str, *, opening: bool) -> None:
        with self._cond:
            self._state = "down"
            self._last_error = error
            if opening:
                self._open_failures += 1
            failures = self._open_failures
        event = "camera_open_failed" if opening else "camera_read_failed"
        log.warning(
            event, camera_id=self.camera_id, source=self.spec.display, error=error, open_failures=failures
        )

    def _wait_backoff(self, delay: float) -> None:
        self._stop_event.wait(delay)
        self.last_heartbeat = time.monotonic()
