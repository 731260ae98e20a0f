"""The engine with the liveness stage on real frames: monitor checks in and flags the phone replay
with one spoof_suspected naming the match; off does exactly what the engine did before."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from sputnik_edge.attendance.policy import AttendancePolicy, CameraInfo, PolicyConfig
from sputnik_edge.attendance.tracker import IouTracker
from sputnik_edge.attendance.types import AttendanceEvent
from sputnik_edge.config import Settings
from sputnik_edge.liveness.stage import build_liveness
from sputnik_edge.metrics import Metrics
from sputnik_edge.pipeline.engine import AttendanceEngine, SnapshotSettings
from sputnik_edge.store.local import LocalStore
from tests.conftest import require
from tests.support.daemon import shared_recognizer
from tests.unit.liveness.conftest import read_frames


@pytest.fixture(scope="module")
def clips(faces_dir: Path) -> dict[str, list[np.ndarray]]:
    src = faces_dir / "liveness"
    require((src / "webcam_phone_replay.webm").is_file(), f"liveness clips not found in {src}")
    return {
        "enrol": read_frames(src / "webcam_live.webm", step=1, limit=1),
        "replay": read_frames(src / "webcam_phone_replay.webm", step=3, limit=60),
    }


def run(
    tmp: Path, mode: str, clips: dict[str, list[np.ndarray]]
) -> tuple[AttendanceEngine, list[AttendanceEvent]]:
    rec = shared_recognizer()
    store = LocalStore(tmp / f"{mode}.db", device_id="door-1")
    vec, q = rec.enrollment_template(clips["enrol"][0])
    store.enroll("man", "Man", None, rec.model_id, vec[None], [q.score])
    rec.set_gallery(store.load_gallery(rec.model_id))
    settings = Settings(liveness={"mode": mode}, storage={"database": str(tmp / "x.db")})
    policy = AttendancePolicy(PolicyConfig(3, 300, 40, 0.1, liveness_mode=settings.liveness.mode), "door-1")
    engine = AttendanceEngine(
        rec,
        policy,
        store,
        SnapshotSettings(True, tmp / f"snaps-{mode}"),
        Metrics(),
        liveness=build_liveness(settings),
    )
    cam, tracker, events = CameraInfo("entrance", "in"), IouTracker(0.3, 1.5), []
    for i, frame in enumerate(clips["replay"]):
        events += engine.process_frame(cam, tracker, frame, datetime.now(UTC), 0.1 * i).events
    events += engine.flush(cam, tracker)
    return engine, events


def test_monitor_checks_in_and_flags_the_replay_once(
    tmp_path: Path, clips: dict[str, list[np.ndarray]]
) -> None:
    engine, events = run(tmp_path, "monitor", clips)
    kinds = [(e.kind, e.employee_id) for e in events]
    assert kinds.count(("spoof_suspected", "man")) == 1
    assert ("check_in", "man") in kinds
    check_in = next(e for e in events if e.kind == "check_in")
    assert check_in.details["liveness"]["verdict"] in ("spoof", "undecided")
    spoof = next(e for e in events if e.kind == "spoof_suspected")
    assert spoof.details["mode"] == "monitor" and spoof.details["liveness"]["cues"] == ["border"]
    stored = {s.event.event_id: s for s in engine.store.list_events(limit=100)}
    assert stored[spoof.event_id].snapshot is not None  # the face crop, kept like any snapshot
    # One verdict per ended track on /metrics; the replay's track ended judged a spoof.
    counted = {
        s.labels["verdict"]: s.value
        for metric in engine.metrics.registry.collect()
        if metric.name == "sputnik_liveness_verdicts"
        for s in metric.samples
        if s.name.endswith("_total")
    }
    tracks = {e.details.get("track_id") for e in events} - {None}
    assert len(tracks) == 1 and counted == {"spoof": 1.0}


def test_off_has_no_stage_and_no_liveness_anywhere(
    tmp_path: Path, clips: dict[str, list[np.ndarray]]
) -> None:
    engine, events = run(tmp_path, "off", clips)
    assert engine.liveness is None
    assert not any(
        m.name == "sputnik_liveness_verdicts" and m.samples for m in engine.metrics.registry.collect()
    )
    assert [(e.kind, e.employee_id) for e in events] == [("check_in", "man")]
    assert all("liveness" not in e.details for e in events)
