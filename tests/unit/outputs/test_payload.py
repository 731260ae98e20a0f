"""The event JSON that leaves the device: documented fields only, a crop only when asked for, and
the per-output filter."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sputnik_edge.attendance.types import EVENT_KINDS, AttendanceEvent
from sputnik_edge.config import Settings
from sputnik_edge.outputs.payload import (
    PAYLOAD_FIELDS,
    SNAPSHOT_FIELD,
    EventFilter,
    check_event_kinds,
    event_payload,
    read_snapshot,
)
from tests.conftest import REPO_ROOT
from tests.support.outputs_contract import DOCUMENTED


def event(kind: str = "check_in", camera: str = "entrance", **kw: object) -> AttendanceEvent:
    return AttendanceEvent(
        event_id="6f1c0a52-8a43-4d43-9b7f-2d6a0f0b1c11",
        device_id="door-1",
        camera_id=camera,
        kind=kind,  # type: ignore[arg-type]
        employee_id="e1" if kind == "check_in" else None,
        name="Ada" if kind == "check_in" else None,
        similarity=0.712345,
        captured_at=datetime(2026, 3, 2, 8, 1, 2, 345678, tzinfo=UTC),
        seq=41,
        trace_id="trace-secret-ish",
        **({"details": {"frames": 3, "track_id": 7, "embedding": [0.1] * 4}} | kw),  # type: ignore[arg-type]
    )


def test_payload_has_exactly_the_documented_fields() -> None:
    body = event_payload(event())
    assert set(body) == DOCUMENTED == set(PAYLOAD_FIELDS)
    assert body == {
        "event_id": "6f1c0a52-8a43-4d43-9b7f-2d6a0f0b1c11",
        "seq": 41,
        "device_id": "door-1",
        "camera_id": "entrance",
        "kind": "check_in",
        "employee_id": "e1",
        "name": "Ada",
        "similarity": 0.7123,
        "captured_at": "2026-03-02T08:01:02.345678+00:00",
        "track_id": 7,
        "liveness": None,  # liveness off: the event has no verdict
    }
    # Details (track internals, anything a stage might add there) and the trace id stay inside.
    assert "details" not in body and "embedding" not in str(body) and "trace" not in str(body)


def test_readme_example_has_exactly_the_documented_fields() -> None:
    section = (REPO_ROOT / "README.md").read_text().split("\n## Event outputs", 1)[1].split("\n### ", 1)[0]
    (example,) = re.findall(r"```json\n(.*?)```", section, re.S)
    assert set(json.loads(example)) == DOCUMENTED


def test_liveness_verdict_goes_out_so_a_receiver_can_tell_a_photo() -> None:
    """liveness.mode = monitor: a photo still gives check_in; the receiver sees the spoof verdict."""
    verdict = {
        "verdict": "spoof",
        "score": 0.08,
        "cues": ["planar", "border"],
        "frames": 9,
        "evidence": {"planar_ratio": 0.31},
        "reason": "x",
    }
    ev = event(details={"frames": 3, "track_id": 4, "liveness": verdict})
    body = event_payload(ev)
    assert body["kind"] == "check_in" and body["track_id"] == 4
    assert body["liveness"] == {"verdict": "spoof", "score": 0.08, "cues": ["planar", "border"]}
    assert "evidence" not in str(body)  # the raw measurements stay on the device
    spoof = event_payload(event("spoof_suspected", details={"liveness": {**verdict, "verdict": "live"}}))
    assert spoof["liveness"]["verdict"] == "live" and spoof["track_id"] is None
    assert set(spoof) == DOCUMENTED


def test_snapshot_only_when_given() -> None:
    jpeg = b"\xff\xd8\xff\xe0fake"
    body = event_payload(event("unknown"), jpeg)
    assert set(body) == DOCUMENTED | {SNAPSHOT_FIELD}
    assert base64.b64decode(body[SNAPSHOT_FIELD]) == jpeg
    assert body["employee_id"] is None and body["name"] is None


def test_read_snapshot_stays_inside_its_folder(tmp_path: Path) -> None:
    root = tmp_path / "snaps"
    (root / "20260302").mkdir(parents=True)
    (root / "20260302" / "a.jpg").write_bytes(b"jpeg")
    (tmp_path / "outside.jpg").write_bytes(b"not yours")
    assert read_snapshot(root, "20260302/a.jpg") == b"jpeg"
    assert read_snapshot(root, "../outside.jpg") is None
    assert read_snapshot(root, "20260302/gone.jpg") is None  # removed by the TTL
    assert read_snapshot(root, None) is None


def test_filter_by_kind_and_camera() -> None:
    alerts = EventFilter(frozenset({"unknown"}), frozenset({"back"}))
    assert alerts.wants(event("unknown", "back"))
    assert not alerts.wants(event("unknown", "entrance"))
    assert not alerts.wants(event("check_in", "back"))
    everything = EventFilter()
    assert all(everything.wants(event(k)) for k in EVENT_KINDS)


def test_event_kinds_checked_against_the_attendance_stage() -> None:
    s = Settings(
        outputs=[
            {
                "id": "a",
                "kind": "webhook",
                "url": "http://127.0.0.1:9/x",
                "secret": "k",
                "events": ["unknown"],
            },
            {
                "id": "b",
                "kind": "webhook",
                "url": "http://127.0.0.1:9/x",
                "secret": "k",
                "events": ["chek_in"],
            },
        ]
    )
    with pytest.raises(
        ValueError, match=r"outputs\[1\]\.events: unknown event kind\(s\) 'chek_in' \(known: check_in"
    ):
        check_event_kinds(s.outputs)
    check_event_kinds(s.outputs[:1])
