"""``stream``: an in-process EdgeApp on the looped clip (file camera), at the configured fps limit
and with every frame processed: throughput, latency, CPU, RSS."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from sputnik_edge.attendance.policy import CameraInfo
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.config import (
    AttendanceSection,
    CameraSection,
    CentralSection,
    HttpSection,
    Settings,
    StorageSection,
)
from sputnik_edge.pipeline.engine import AttendanceEngine, FrameOutcome
from sputnik_edge.store.local import LocalStore
from sputnik_edge.tools.bench.context import CLIP, BenchContext, progress
from sputnik_edge.tools.bench.machine import RssSampler
from sputnik_edge.tools.bench.results import StreamAttendance, StreamResult, StreamRun, StreamSamples
from sputnik_edge.tools.bench.stats import stats_ms
from sputnik_edge.vision.types import FloatArray, ImageArray

# Many events instead of one check-in per 5 minutes: no cooldown, tracks end quickly.
COOLDOWN_S = 0.0
TRACK_MAX_AGE_S = 0.3


class LatencyEngine(AttendanceEngine):
    """The real engine, recording per-frame and per-event latency from frame capture."""

    def __init__(self, base: AttendanceEngine) -> None:
        super().__init__(base.recognizer, base.policy, base.store, base.snapshots, base.metrics)
        self.frame_latency: list[float] = []
        self.busy: list[float] = []
        self.event_latency: list[float] = []
        self.kinds: list[str] = []
        self.recording = False
        self._frame_mono: float | None = None

    def process_frame(
        self,
        camera: CameraInfo,
        tracker: IouTracker,
        image: ImageArray,
        wall: datetime,
        mono: float,
        trace_id: str | None = None,
    ) -> FrameOutcome:
        self._frame_mono = mono
        start = time.monotonic()
        try:
            out = super().process_frame(camera, tracker, image, wall, mono, trace_id)
        finally:
            self._frame_mono = None
        if self.recording:
            end = time.monotonic()
            self.frame_latency.append(end - mono)
            self.busy.append(end - start)
        return out

    def commit(
        self, ev: AttendanceEvent, snapshot: ImageArray | None, embedding: FloatArray | None = None
    ) -> AttendanceEvent:
        stored = super().commit(ev, snapshot, embedding)
        if self.recording:
            self.kinds.append(f"{ev.kind}:{ev.employee_id or '-'}")
            if self._frame_mono is not None:
                self.event_latency.append(time.monotonic() - self._frame_mono)
        return stored


def bench_settings(ctx: BenchContext, tmp: Path, source: Path, fps_limit: float, **http: Any) -> Settings:
    return ctx.settings.model_copy(
        update={
            "cameras": [
                CameraSection(id="bench", source=str(source), direction="in", fps_limit=fps_limit, loop=True)
            ],
            "storage": StorageSection(database=tmp / "edge.db", snapshots_dir=tmp / "snapshots"),
            "attendance": AttendanceSection(
                cooldown_s=COOLDOWN_S,
                track_max_age_s=TRACK_MAX_AGE_S,
                min_frames=ctx.settings.attendance.min_frames,
            ),
            "central": CentralSection(),
            "http": HttpSection(**http) if http else HttpSection(enabled=False),
        }
    )


def clip_fps(path: Path) -> float:
    import cv2

    cap = cv2.VideoCapture(str(path))
    fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
    cap.release()
    return fps


def _run(ctx: BenchContext, fps_limit: float, seconds: float) -> StreamRun:
    from sputnik_edge.daemon.app import EdgeApp

    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-stream-"))
    try:
        settings = bench_settings(ctx, tmp, ctx.clip_path(), fps_limit)
        seed = LocalStore(settings.storage.database, device_id=settings.device.id)
        ctx.enrol_into(seed, ctx.recognizer().model_id)
        seed.close()
        app = EdgeApp(settings)
        engine = LatencyEngine(app.engine)
        app.engine = engine
        proc = psutil.Process()
        app.start()
        try:
            deadline = time.monotonic() + 30
            worker = app.workers["bench"]
            while worker.frames == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            capture = app.captures["bench"]
            st0, frames0 = capture.status(), worker.frames
            sampler = RssSampler()
            sampler.start()
            cpu0 = proc.cpu_times()
            t0 = time.monotonic()
            engine.recording = True
            with progress(int(seconds), f"stream fps_limit={fps_limit:g}", ctx.progress) as bar:
                end = t0 + seconds
                while (now := time.monotonic()) < end:
                    time.sleep(min(1.0, end - now))
                    bar.update(1)
            engine.recording = False
            wall = time.monotonic() - t0
            cpu1 = proc.cpu_times()
            st1, frames1 = capture.status(), worker.frames
            peak = sampler.stop()
        finally:
            app.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    source_fps = clip_fps(ctx.clip_path())
    processed = frames1 - frames0
    read = st1.frames_read - st0.frames_read
    target_fps = min(fps_limit, source_fps) if fps_limit > 0 else source_fps
    processed_fps = processed / wall
    cpu_s = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return StreamRun(
        fps_limit=fps_limit,
        seconds=round(wall, 2),
        source_fps=round(source_fps, 2),
        target_fps=round(target_fps, 2),
        frames_read=read,
        frames_processed=processed,
        frames_skipped_by_limit=st1.frames_skipped - st0.frames_skipped,
        frames_dropped=st1.frames_dropped - st0.frames_dropped,
        read_fps=round(read / wall, 2),
        processed_fps=round(processed_fps, 2),
        realtime_factor=round(processed_fps / target_fps, 3),
        read_realtime_factor=round(read / wall / source_fps, 3),
        frame_latency=stats_ms(engine.frame_latency),
        processing=stats_ms(engine.busy),
        samples_ms=StreamSamples(
            frame_latency=[round(1000 * v, 1) for v in engine.frame_latency],
            processing=[round(1000 * v, 1) for v in engine.busy],
            event_latency=[round(1000 * v, 1) for v in engine.event_latency],
        ),
        event_latency=stats_ms(engine.event_latency),
        events=len(engine.kinds),
        events_by_kind=dict(sorted(Counter(engine.kinds).items())),
        cpu_cores=round(cpu_s / wall, 3),
        peak_rss_mb=round(peak / 2**20, 1),
        gallery_employees=app.recognizer.gallery.n_employees,
    )


def bench_stream(ctx: BenchContext) -> StreamResult:
    seconds = ctx.seconds if ctx.seconds is not None else (5.0 if ctx.quick else 30.0)
    configured = ctx.configured_fps_limit()
    runs = {f"fps_limit_{f:g}": _run(ctx, f, seconds) for f in dict.fromkeys((configured, 0.0))}
    return StreamResult(
        clip=CLIP,
        seconds_per_run=seconds,
        attendance=StreamAttendance(
            cooldown_s=COOLDOWN_S,
            track_max_age_s=TRACK_MAX_AGE_S,
            min_frames=ctx.settings.attendance.min_frames,
        ),
        latency_definition="frame_latency: capture (frame read) to end of processing, including the "
        "wait in the latest-frame slot; processing: process_frame alone; "
        "event_latency: capture of the deciding frame to the durable outbox commit",
        note="in-process: RSS includes whatever earlier sections loaded; see the memory section",
        runs=runs,
    )
