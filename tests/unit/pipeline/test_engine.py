"""The engine on real frames of the dev clip: a check-in for the enrolled performer, nothing naming
anyone else, events in the outbox before the call returns, snapshots only for nameless events."""

from __future__ import annotations

import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import AttendanceEngine, SnapshotSettings
from sputnik_edge.store.local import LocalStore
from tests.support.daemon import enrol_people, first_photo_per_person, shared_recognizer


@pytest.fixture
def engine(tmp_path: Path, faces_dir: Path) -> AttendanceEngine:
    enrol_people(tmp_path / "edge.db", first_photo_per_person(faces_dir))
    store = LocalStore(tmp_path / "edge.db")
    rec = shared_recognizer()
    rec.set_gallery(store.load_gallery(rec.model_id))
    policy = AttendancePolicy(PolicyConfig(min_frames=3, cooldown_s=300), "door-1")
    return AttendanceEngine(rec, policy, store, SnapshotSettings(True, tmp_path / "snaps"), Metrics())


def clip_frames(faces_dir: Path, start: int, stop: int, step: int = 3) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(faces_dir / "video/short_hamilton_clip.mp4"))
    frames = []
    for i in range(stop):
        ok, frame = cap.read()
        if not ok:
            break
        if i >= start and (i - start) % step == 0:
            frames.append(frame)
    cap.release()
    return frames


def test_clip_gives_one_check_in_and_names_no_one_else(engine: AttendanceEngine, faces_dir: Path) -> None:
    cam, tracker = CameraInfo("entrance", "in"), IouTracker(0.3, 0.5)
    events = []
    embedded = 0
    t = 0.0
    for frame in clip_frames(faces_dir, 82, 275):  # his medium shot, then the audience
        out = engine.process_frame(cam, tracker, frame, datetime.now(UTC), t)
        events += out.events
        embedded += out.embedded
        for ev in out.events:  # committed before process_frame returned
            assert ev.event_id in {s.event.event_id for s in engine.store.list_events(limit=100)}
        t += 0.1
    events += engine.flush(cam, tracker)
    named = [e for e in events if e.employee_id]
    assert [(e.kind, e.employee_id) for e in named] == [("check_in", "lin_manuel_miranda")]
    assert all(e.kind in ("unknown", "low_confidence") for e in events if not e.employee_id)
    frames_seen = len(clip_frames(faces_dir, 82, 275))
    assert embedded < frames_seen  # a decided track is not embedded again
    assert engine.metrics.registry.get_sample_value("sputnik_events_total", {"kind": "check_in"}) == 1


def test_unknown_face_snapshot_is_private(engine: AttendanceEngine, faces_dir: Path, tmp_path: Path) -> None:
    from sputnik_edge.vision.imageio import load_image

    # Nobody enrolled looks like this stranger: the gateway path gives a nameless event with a crop.
    stranger = load_image(faces_dir / "calib/compreface_e2e/personA/personA-img1.jpg")
    out = engine.process_snapshot(CameraInfo("gateway", "in"), stranger, trace_id="t-123456789")
    assert [(e.kind, e.employee_id) for e in out.events] == [("unknown", None)]
    stored = engine.store.list_events(limit=10)[-1]
    assert stored.snapshot is not None and stored.event.trace_id == "t-123456789"
    path = tmp_path / "snaps" / stored.snapshot
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    crop = cv2.imread(str(path))
    assert crop is not None and crop.shape[0] < stranger.shape[0]  # a face crop, not the whole photo


def test_tick_ends_tracks_when_the_camera_is_silent(engine: AttendanceEngine, faces_dir: Path) -> None:
    cam = CameraInfo("entrance", "in")
    tracker = IouTracker(0.3, max_age_s=0.05)
    now = time.monotonic()
    # The clip's first frames: him close up, recognised in some frames only (not enough for a
    # check-in), and a small face in the background that the quality gate stops.
    for i, frame in enumerate(clip_frames(faces_dir, 0, 12)):
        engine.process_frame(cam, tracker, frame, datetime.now(UTC), now + i * 0.01)
    assert len(tracker.tracks) >= 2
    # Tracks followed over min_frames embedded frames and still undecided owe one nameless event;
    # the others (faces never embedded) end silently.
    due = sorted(t.track_id for t in tracker.tracks if not t.decided and len(t.observations) >= 3)
    assert due, [(t.track_id, len(t.observations), t.decided) for t in tracker.tracks]
    before = engine.store.count_events()
    time.sleep(0.1)  # older than max_age_s, with no frame in between
    ended = engine.tick(cam, tracker)
    assert tracker.tracks == []
    assert sorted(e.details["track_id"] for e in ended) == due
    assert all(e.kind in ("unknown", "low_confidence") and e.employee_id is None for e in ended)
    assert engine.store.count_events() == before + len(due)
    assert engine.tick(cam, tracker) == []  # nothing left to end
    assert engine.store.count_events() == before + len(due)


def test_cooldown_suppression_is_counted_once_per_dropped_check_in(
    engine: AttendanceEngine, faces_dir: Path
) -> None:
    from sputnik_edge.vision.imageio import load_image

    photo = load_image(faces_dir / "images/barack_obama/obama2.jpg")
    cam = CameraInfo("gateway", "in")

    def suppressed() -> float | None:
        return engine.metrics.registry.get_sample_value(
            "sputnik_cooldown_suppressed_total", {"camera": "gateway"}
        )

    first = engine.process_snapshot(cam, photo)
    assert [(e.kind, e.employee_id) for e in first.events] == [("check_in", "barack_obama")]
    assert suppressed() is None  # nothing dropped yet
    for _ in range(2):  # the same person again within cooldown_s: no event, one count each
        assert engine.process_snapshot(cam, photo).events == []
    assert suppressed() == 2
    assert engine.metrics.registry.get_sample_value("sputnik_events_total", {"kind": "check_in"}) == 1
