"""One pipeline, two entry points: recognise -> policy -> outbox for camera frames and snapshots.

Events are committed to the local outbox before the call returns and before anything can
touch the network; a snapshot is written after the commit and never holds the event back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import structlog

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo
from sputnik_edge.attendance.tracker import IouTracker, Track
from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.liveness.stage import LivenessStage
from sputnik_edge.liveness.types import SINGLE_PHOTO, LivenessVerdict
from sputnik_edge.metrics import Metrics
from sputnik_edge.recognition.recognizer import FaceCandidate, Recognizer
from sputnik_edge.recognition.types import FaceResult
from sputnik_edge.store.local import LocalStore
from sputnik_edge.store.snapshots import save_snapshot
from sputnik_edge.vision.types import FloatArray, ImageArray

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class SnapshotSettings:
    enabled: bool
    directory: Path
    upload_unknowns: bool = False  # keep crop + embedding of unknown events for the central push


@dataclass(frozen=True, slots=True)
class FrameOutcome:
    faces: list[FaceResult]
    events: list[AttendanceEvent] = field(default_factory=list)
    embedded: int = 0
    liveness: dict[str, object] | None = None  # snapshots: what was (not) checked; None when off


def encode_jpeg(image: ImageArray | None) -> bytes | None:
    if image is None:
        return None
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return buf.tobytes() if ok else None


def face_crop(image: ImageArray, bbox: tuple[float, float, float, float], scale: float = 1.6) -> ImageArray:
    """The face with some context; a crop, not the whole frame, to keep less personal data."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = bbox
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = max(x2 - x1, y2 - y1) * scale / 2
    a, b = max(0, int(cx - half)), max(0, int(cy - half))
    c, d = min(w, int(cx + half)), min(h, int(cy + half))
    if c <= a or d <= b:
        return image
    return np.ascontiguousarray(image[b:d, a:c])


class AttendanceEngine:
    def __init__(
        self,
        recognizer: Recognizer,
        policy: AttendancePolicy,
        store: LocalStore,
        snapshots: SnapshotSettings,
        metrics: Metrics,
        liveness: LivenessStage | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.policy = policy
        self.store = store
        self.snapshots = snapshots
        self.metrics = metrics
        # None with liveness.mode = "off": not a single extra operation per frame then.
        self.liveness = liveness if policy.cfg.liveness_mode != "off" else None

    # ---- camera frames -------------------------------------------------------------------------

    def process_frame(
        self,
        camera: CameraInfo,
        tracker: IouTracker,
        image: ImageArray,
        wall: datetime,
        mono: float,
        trace_id: str | None = None,
    ) -> FrameOutcome:
        """One frame of a followed stream; embeds only faces whose track needs it."""
        m = self.metrics
        cam = camera.camera_id
        candidates = self.recognizer.analyze(image)
        m.frames.labels(cam).inc()
        m.faces.labels(cam).inc(len(candidates))
        tracks, ended = tracker.update([c.detection.bbox for c in candidates], mono)
        to_embed: list[tuple[FaceCandidate, Track]] = []
        verdicts: dict[int, LivenessVerdict] = {}
        events: list[AttendanceEvent] = []
        grey: ImageArray | None = None
        for cand, track in zip(candidates, tracks, strict=True):
            q = cand.quality
            if not q.ok:
                for reason in q.reasons:
                    m.quality_rejects.labels(reason).inc()
                continue
            if q.score > track.snapshot_quality:
                track.snapshot = face_crop(image, cand.detection.bbox)
                track.snapshot_quality = q.score
            if self.liveness is not None:
                if grey is None:
                    grey = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)
                judged = self.liveness.observe(cam, track.track_id, image, cand.detection, grey)
                verdicts[track.track_id] = judged
                events += self._liveness_changed(camera, track, judged, wall, trace_id)
            if self.policy.needs_embedding(track, q.score):
                to_embed.append((cand, track))
        faces: dict[int, FaceResult] = {}
        if to_embed:
            embeddings = self.recognizer.embed([c for c, _ in to_embed])
            matches = self.recognizer.match(embeddings)
            m.embeds.labels(cam).inc(len(to_embed))
            for (cand, track), emb, match in zip(to_embed, embeddings, matches, strict=True):
                m.decisions.labels(match.decision).inc()
                track.embeds += 1
                if cand.quality.score > track.best_quality:
                    track.best_embedding = emb
                track.best_quality = max(track.best_quality, cand.quality.score)
                faces[id(cand)] = FaceResult(cand.detection, cand.quality, emb, match)
                verdict = verdicts.get(track.track_id)
                ev = self.policy.observe(track, match, camera, wall, trace_id=trace_id, liveness=verdict)
                self._count_cooldown(camera, track)
                if ev is not None:
                    events.append(self.commit(ev, track.snapshot if ev.kind == "spoof_suspected" else None))
                if verdict is not None:
                    events += self._flag_spoof(camera, track, verdict, wall, trace_id)
        events += self.end_tracks(camera, ended, wall, trace_id)
        if events:
            latency = time.monotonic() - mono
            for _ in events:
                m.event_latency.observe(latency)
        m.frame_latency.observe(time.monotonic() - mono)
        results = [faces.get(id(c), FaceResult(c.detection, c.quality, None, None)) for c in candidates]
        return FrameOutcome(results, events, len(to_embed))

    def _liveness_changed(
        self, camera: CameraInfo, track: Track, verdict: LivenessVerdict, wall: datetime, trace_id: str | None
    ) -> list[AttendanceEvent]:
        """A track judged this frame: a held match may go ahead (enforce) or be flagged."""
        if not verdict.final:
            return []
        if self.policy.cfg.liveness_mode != "enforce":
            return self._flag_spoof(camera, track, verdict, wall, trace_id)
        ev = self.policy.reconsider(track, camera, wall, trace_id=trace_id, liveness=verdict)
        self._count_cooldown(camera, track)
        if ev is None:
            return []
        return [self.commit(ev, track.snapshot if ev.kind == "spoof_suspected" else None)]

    def _count_cooldown(self, camera: CameraInfo, track: Track) -> None:
        if track.cooldown_hit:
            track.cooldown_hit = False
            self.metrics.cooldown_suppressed.labels(camera.camera_id).inc()

    def _flag_spoof(
        self,
        camera: CameraInfo,
        track: Track,
        verdict: LivenessVerdict,
        wall: datetime,
        trace_id: str | None,
        *,
        ending: bool = False,
    ) -> list[AttendanceEvent]:
        """monitor: one spoof_suspected per attacking track, once it is known whom the face
        matched (or when the track ends without a match); the check-in is not held back."""
        if self.policy.cfg.liveness_mode != "monitor" or verdict.verdict != "spoof" or track.spoof_reported:
            return []
        leader = self.policy.matched(track)
        if leader is None and not (ending and track.observations):
            return []
        ev = self.policy.spoof_event(track, leader, camera, wall, verdict, trace_id)
        return [] if ev is None else [self.commit(ev, track.snapshot)]

    def end_tracks(
        self, camera: CameraInfo, ended: list[Track], wall: datetime, trace_id: str | None = None
    ) -> list[AttendanceEvent]:
        """Decide tracks that left the picture: at most one unknown / low-confidence event each."""
        out = []
        for track in ended:
            verdict = None
            if self.liveness is not None:
                verdict = self.liveness.forget(camera.camera_id, track.track_id)
                self.metrics.liveness_verdicts.labels(verdict.verdict).inc()
                out += self._flag_spoof(camera, track, verdict, wall, trace_id, ending=True)
            ev = self.policy.track_ended(track, camera, wall, trace_id=trace_id, liveness=verdict)
            if ev is not None:
                out.append(self.commit(ev, track.snapshot, track.best_embedding))
            track.snapshot = None
            track.best_embedding = None
        return out

    def tick(self, camera: CameraInfo, tracker: IouTracker) -> list[AttendanceEvent]:
        """No frame arrived: still end the tracks of people who left while the camera is silent."""
        _, ended = tracker.update([], time.monotonic())
        return self.end_tracks(camera, ended, datetime.now(UTC))

    def flush(self, camera: CameraInfo, tracker: IouTracker) -> list[AttendanceEvent]:
        """On shutdown: decide the tracks still open so nothing seen is lost."""
        return self.end_tracks(camera, tracker.flush(), datetime.now(UTC))

    # ---- single snapshots (HTTP gateway) ---------------------------------------------------------

    def process_snapshot(
        self, camera: CameraInfo, image: ImageArray, trace_id: str | None = None
    ) -> FrameOutcome:
        """A pushed photo is a deliberate capture: one frame decides, with the usual cooldown."""
        mono = time.monotonic()
        wall = datetime.now(UTC)
        faces = self.recognizer.recognize(image)
        m = self.metrics
        m.frames.labels(camera.camera_id).inc()
        m.faces.labels(camera.camera_id).inc(len(faces))
        events: list[AttendanceEvent] = []
        # A single photo cannot show liveness: say so; under enforce it gives no check-in.
        verdict = SINGLE_PHOTO if self.policy.cfg.liveness_mode != "off" else None
        for i, face in enumerate(faces):
            if face.match is None:
                for reason in face.quality.reasons:
                    m.quality_rejects.labels(reason).inc()
                continue
            m.embeds.labels(camera.camera_id).inc()
            m.decisions.labels(face.match.decision).inc()
            track = Track(track_id=i + 1, bbox=face.detection.bbox, first_seen=mono, last_seen=mono)
            ev = self.policy.observe(
                track, face.match, camera, wall, min_frames=1, trace_id=trace_id, liveness=verdict
            )
            self._count_cooldown(camera, track)
            if ev is None and not track.decided:
                ev = self.policy.track_ended(
                    track,
                    camera,
                    wall,
                    min_frames=1,
                    trace_id=trace_id,
                    liveness=verdict,
                    spoof_cooldown=True,
                )
                if ev is not None:
                    events.append(self.commit(ev, face_crop(image, face.detection.bbox), face.embedding))
                continue
            if ev is not None:
                events.append(self.commit(ev, None))
        if events:
            for _ in events:
                m.event_latency.observe(time.monotonic() - mono)
        return FrameOutcome(
            faces,
            events,
            sum(1 for f in faces if f.match is not None),
            liveness=None if verdict is None else {"verdict": verdict.verdict, "reason": verdict.reason},
        )

    # ---- outbox --------------------------------------------------------------------------------

    def commit(
        self, ev: AttendanceEvent, snapshot: ImageArray | None, embedding: FloatArray | None = None
    ) -> AttendanceEvent:
        stored = self.store.record_event(ev)  # durable before anything else happens to it
        self.metrics.events.labels(ev.kind).inc()
        if snapshot is not None and self.snapshots.enabled:
            rel = save_snapshot(self.snapshots.directory, ev.event_id, snapshot, ev.captured_at)
            if rel is not None:
                self.store.set_snapshot(ev.event_id, rel)
        if ev.kind == "unknown" and self.snapshots.upload_unknowns and embedding is not None:
            self.store.faces.save(ev.event_id, self.recognizer.model_id, embedding, encode_jpeg(snapshot))
        log.info(
            "attendance_event",
            event_id=ev.event_id,
            kind=ev.kind,
            employee_id=ev.employee_id,
            camera_id=ev.camera_id,
            similarity=None if ev.similarity is None else round(ev.similarity, 4),
            seq=stored.seq,
        )
        return stored
