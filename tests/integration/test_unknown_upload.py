"""Unknown visitors (opt-in): a device with ``central.upload_unknown_snapshots`` sends the face crop
and embedding of `unknown` events with its push; without the option nothing biometric leaves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.central.schema import attendance_events, unknown_faces
from sputnik_edge.central.sync import CentralSync
from sputnik_edge.config import Settings
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import AttendanceEngine, SnapshotSettings
from sputnik_edge.store.local import LocalStore
from tests.support.daemon import shared_recognizer

pytestmark = pytest.mark.integration


def stranger_frames(faces_dir: Path) -> list[np.ndarray]:
    """Frames 82-210 of the dev clip: the performer's medium shot. Nobody is enrolled here, so to
    this device he is a stranger."""
    cap = cv2.VideoCapture(str(faces_dir / "video/short_hamilton_clip.mp4"))
    frames = []
    for i in range(275):
        ok, frame = cap.read()
        if not ok:
            break
        if 82 <= i <= 210 and i % 3 == 0:
            frames.append(frame)
    cap.release()
    return frames


def run_engine(store: LocalStore, upload: bool, faces_dir: Path, tmp_path: Path) -> list[str]:
    rec = shared_recognizer()
    rec.set_gallery(store.load_gallery(rec.model_id))
    policy = AttendancePolicy(PolicyConfig(min_frames=3, cooldown_s=300), "door-up")
    engine = AttendanceEngine(
        rec, policy, store, SnapshotSettings(False, tmp_path / "snaps", upload_unknowns=upload), Metrics()
    )
    cam, tracker = CameraInfo("hall", "in"), IouTracker(0.3, 0.5)
    t = 0.0
    for frame in stranger_frames(faces_dir):
        engine.process_frame(cam, tracker, frame, datetime.now(UTC), t)
        t += 0.1
    engine.flush(cam, tracker)
    return [s.event.event_id for s in store.list_events(limit=100) if s.event.kind == "unknown"]


@pytest.mark.parametrize("upload", [True, False])
def test_unknown_faces_reach_central_only_when_enabled(
    upload: bool, central_url: str, faces_dir: Path, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "edge.db", device_id="door-up")
    unknown = run_engine(store, upload, faces_dir, tmp_path)
    assert unknown, "a stranger in view must give at least one unknown event"
    assert store.faces.count() == (len(unknown) if upload else 0)

    settings = Settings(device={"id": "door-up"}, central={"database_url": central_url})
    sync = CentralSync(settings, store, shared_recognizer().model_id, Metrics())
    try:
        assert sync.push_once(force=True) >= len(unknown)
    finally:
        sync.close()
    assert store.backlog() == 0
    assert store.faces.count() == 0  # delivered (or never kept): nothing biometric left locally

    engine = create_engine(central_url, poolclass=NullPool)
    with engine.connect() as conn:
        rows = conn.execute(select(unknown_faces)).all()
        kinds = dict(conn.execute(select(attendance_events.c.event_id, attendance_events.c.kind)).all())
    engine.dispose()
    if not upload:
        assert rows == []
        return
    assert sorted(r.event_id for r in rows) == sorted(unknown)
    for r in rows:
        assert kinds[r.event_id] == "unknown" and r.device_id == "door-up" and r.camera_id == "hall"
        vec = np.frombuffer(r.embedding, dtype="<f4")
        assert vec.shape == (128,) and abs(float(np.linalg.norm(vec)) - 1.0) < 1e-3
        assert r.crop[:2] == b"\xff\xd8" and cv2.imdecode(np.frombuffer(r.crop, np.uint8), 1) is not None
