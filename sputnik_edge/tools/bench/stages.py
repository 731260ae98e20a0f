"""``stages``: per-stage times of the daemon's own frame path on real frames.

Each image goes through what a camera worker runs, ``AttendanceEngine.process_frame`` and (the
person leaving) ``AttendanceEngine.flush``, on the real recogniser, policy and local store.
The stages are timed from inside through subclasses that wrap the very methods the engine calls
(``Recognizer.detect/align/judge/embed/match``, ``AttendancePolicy.observe/track_ended``,
``AttendanceEngine.commit``), so nothing here re-implements the pipeline: a change to it shows in
these numbers. Decode is ``decode_image`` on the JPEG, as for a gateway snapshot.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ParamSpec, TypeVar

import numpy as np

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker, Track
from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.liveness.types import LivenessVerdict
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import AttendanceEngine, SnapshotSettings
from sputnik_edge.recognition.recognizer import FaceCandidate, Recognizer
from sputnik_edge.recognition.types import MatchResult
from sputnik_edge.store.local import LocalStore
from sputnik_edge.tools.bench.context import RESOLUTIONS, BenchContext, BenchError, progress
from sputnik_edge.tools.bench.results import (
    STAGE_NAMES,
    STAGE_UNIT,
    StageResolution,
    StagesResult,
    StageTiming,
)
from sputnik_edge.tools.bench.stats import stats_ms
from sputnik_edge.vision.imageio import decode_image
from sputnik_edge.vision.types import Detection, FloatArray, ImageArray, Quality

P = ParamSpec("P")
R = TypeVar("R")


class StageClock:
    """Wall-clock samples (seconds) per stage name."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {k: [] for k in STAGE_NAMES}

    def call(self, stage: str, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self.samples[stage].append(time.perf_counter() - t0)


class TimedRecognizer(Recognizer):
    """The given recogniser's parts; each step the engine calls is timed, none is changed."""

    def __init__(self, base: Recognizer, clock: StageClock) -> None:
        super().__init__(
            base.detector,
            base.embedder,
            base.limits,
            base.thresholds,
            base.gallery,
            base.backlight,
            enrol_embedder=base._enrol_factory,
        )
        self.clock = clock

    def detect(self, image: ImageArray) -> list[Detection]:
        return self.clock.call("detect", super().detect, image)

    def align(self, image: ImageArray, detection: Detection) -> ImageArray:
        return self.clock.call("align", super().align, image, detection)

    def judge(self, detection: Detection, aligned: ImageArray, image_shape: tuple[int, ...]) -> Quality:
        return self.clock.call("quality", super().judge, detection, aligned, image_shape)

    def embed(self, candidates: list[FaceCandidate]) -> FloatArray:
        return self.clock.call("embed", super().embed, candidates)

    def match(self, embeddings: FloatArray) -> list[MatchResult]:
        return self.clock.call("match", super().match, embeddings)


class TimedPolicy(AttendancePolicy):
    def __init__(self, cfg: PolicyConfig, device_id: str, clock: StageClock) -> None:
        super().__init__(cfg, device_id)
        self.stage_clock = clock

    def observe(
        self,
        track: Track,
        match: MatchResult,
        camera: CameraInfo,
        wall: datetime,
        *,
        min_frames: int | None = None,
        trace_id: str | None = None,
        liveness: LivenessVerdict | None = None,
    ) -> AttendanceEvent | None:
        return self.stage_clock.call(
            "policy",
            super().observe,
            track,
            match,
            camera,
            wall,
            min_frames=min_frames,
            trace_id=trace_id,
            liveness=liveness,
        )

    def track_ended(
        self,
        track: Track,
        camera: CameraInfo,
        wall: datetime,
        *,
        min_frames: int | None = None,
        trace_id: str | None = None,
        liveness: LivenessVerdict | None = None,
        spoof_cooldown: bool = False,
    ) -> AttendanceEvent | None:
        return self.stage_clock.call(
            "policy",
            super().track_ended,
            track,
            camera,
            wall,
            min_frames=min_frames,
            trace_id=trace_id,
            liveness=liveness,
            spoof_cooldown=spoof_cooldown,
        )


class TimedEngine(AttendanceEngine):
    clock: StageClock

    def commit(
        self, ev: AttendanceEvent, snapshot: ImageArray | None, embedding: FloatArray | None = None
    ) -> AttendanceEvent:
        return self.clock.call("outbox", super().commit, ev, snapshot, embedding)


def _jpeg_groups(ctx: BenchContext, n_frames: int) -> list[tuple[str, list[tuple[str, bytes]]]]:
    """Clip frames upscaled to each resolution as JPEG (quality 90), then the dev photos."""
    import cv2

    frames = ctx.video_frames()
    picks = np.linspace(0, len(frames) - 1, n_frames).round().astype(int)
    groups: list[tuple[str, list[tuple[str, bytes]]]] = []
    for w, h in RESOLUTIONS:
        items = []
        for i in picks:
            img = cv2.resize(frames[int(i)], (w, h), interpolation=cv2.INTER_LINEAR)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            if not ok:
                raise BenchError("JPEG encoding failed")
            items.append((f"frame{int(i)}", buf.tobytes()))
        groups.append((f"{w}x{h}", items))
    groups.append(("photos", ctx.photos() if not ctx.quick else ctx.photos()[:3]))
    return groups


def bench_stages(ctx: BenchContext) -> StagesResult:
    """Per-stage times of the recognise -> policy -> outbox path, frame by frame."""
    n_frames = ctx.iterations(30, 3)
    groups = _jpeg_groups(ctx, n_frames)
    repeats = ctx.iterations(2, 1)
    att = ctx.settings.attendance
    device = ctx.settings.device.id
    camera = CameraInfo("bench", "in")
    tmp = Path(tempfile.mkdtemp(prefix="sputnik-bench-stages-"))
    store = LocalStore(tmp / "edge.db", device_id=device)
    base = ctx.recognizer()
    gallery = ctx.dev_gallery()
    resolutions: dict[str, StageResolution] = {}
    try:
        with progress(sum(len(items) for _, items in groups) * repeats, "stages", ctx.progress) as bar:
            for label, items in groups:
                clock = StageClock()
                rec = TimedRecognizer(base, clock)
                rec.set_gallery(gallery)
                # min_frames 1 and no cooldown: every embedded face is decided, so the policy and
                # outbox stages run on each image (the daemon's defaults would wait for 3 frames).
                policy = TimedPolicy(
                    PolicyConfig(1, 0.0, att.max_embeds_per_track, att.reembed_quality_gain), device, clock
                )
                # Snapshots off: the outbox stage is the durable commit (a snapshot is written
                # after it, and only for unknown faces when storage.save_snapshots is on).
                engine = TimedEngine(
                    rec, policy, store, SnapshotSettings(False, tmp / "snapshots"), Metrics()
                )
                engine.clock = clock
                faces_seen = events = 0
                for _ in range(repeats):
                    for name, data in items:
                        # Each image is a person arriving and leaving: a fresh tracker, then flush.
                        tracker = IouTracker(att.track_iou, att.track_max_age_s)
                        t0 = time.perf_counter()
                        img = clock.call("decode", decode_image, data, name=name).image
                        outcome = engine.process_frame(
                            camera, tracker, img, datetime.now(UTC), time.monotonic()
                        )
                        ended = engine.flush(camera, tracker)
                        clock.samples["total"].append(time.perf_counter() - t0)
                        faces_seen += len(outcome.faces)
                        events += len(outcome.events) + len(ended)
                        bar.update(1)
                resolutions[label] = StageResolution(
                    images=len(items),
                    faces_per_frame=round(faces_seen / max(1, repeats * len(items)), 2),
                    events=events,
                    stages={
                        k: StageTiming(per=STAGE_UNIT[k], stats=stats_ms(v)) for k, v in clock.samples.items()
                    },
                )
    finally:
        store.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return StagesResult(
        resolutions=resolutions,
        frames_per_resolution=int(n_frames),
        repeats=repeats,
        gallery_employees=gallery.n_employees,
        detect_max_side=ctx.settings.recognition.detect_max_side,
    )
