"""Enrolment from a clip at the office over real HTTP (``POST /api/v1/employees/{id}/clips``): the
real webcam clip becomes several templates a device pulls; the same face for another employee is
a 409 unless forced; two people, no usable face, non-clips and broken clips are refused with the
reason, and nothing is stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select

from sputnik_edge.central.schema import face_templates
from sputnik_edge.vision.imageio import load_image
from tests.conftest import require
from tests.office.conftest import OfficeServer, add_user, assert_error, audit_rows, new_token
from tests.support.clips import write_clip

pytestmark = pytest.mark.integration

WEBCAM = "liveness/webcam_live.webm"


@pytest.fixture(scope="module")
def hr(server: OfficeServer) -> httpx.Client:
    add_user(server.central, "clara", "hr")
    return server.client(headers={"Authorization": f"Bearer {new_token(server.central, 'clara')}"})


@pytest.fixture(scope="module")
def webcam(faces_dir: Path) -> bytes:
    path = faces_dir / WEBCAM
    require(path.is_file(), f"webcam clip not found at {path}")
    return path.read_bytes()


def create(client: httpx.Client, employee_id: str) -> None:
    r = client.post("/api/v1/employees", json={"employee_id": employee_id, "full_name": employee_id.title()})
    assert r.status_code == 201, r.text


def upload(
    client: httpx.Client, employee_id: str, data: bytes, name: str = "c.webm", **form: str
) -> httpx.Response:
    return client.post(f"/api/v1/employees/{employee_id}/clips", files={"file": (name, data)}, data=form)


def templates(server: OfficeServer, employee_id: str) -> int:
    with server.central.engine.connect() as conn:
        stmt = (
            select(func.count())
            .select_from(face_templates)
            .where(face_templates.c.employee_id == employee_id)
        )
        return int(conn.execute(stmt).scalar_one())


def test_clip_enrolment_with_the_real_models(
    server: OfficeServer, hr: httpx.Client, webcam: bytes, recognizer: Any
) -> None:
    create(hr, "webcam-man")
    r = upload(hr, "webcam-man", webcam, max_templates="4")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["model_id"] == recognizer.model_id
    assert len(body["template_ids"]) == len(body["chosen"]) == 4 == templates(server, "webcam-man")
    assert len({c["frame"] for c in body["chosen"]}) == 4
    assert {"frontal", "turned_left", "turned_right"} <= {c["pose"] for c in body["chosen"]}
    assert body["refused"].get("pose_yaw", 0) > 0 and body["similar_to"] == []
    delta = server.central.pull_gallery(recognizer.model_id, 0)
    assert set(body["template_ids"]) <= {t.template_id for t in delta.templates}
    entry = next(
        e for e in audit_rows(server.central, "employee_clip_enrolled") if e.target_id == "webcam-man"
    )
    assert entry.trace_id == r.headers["X-Trace-ID"]
    assert (entry.details or {})["frames"] == [c["frame"] for c in body["chosen"]]

    # The same face for somebody else: refused naming him, unless forced.
    create(hr, "webcam-twin")
    err = assert_error(upload(hr, "webcam-twin", webcam), 409, "duplicate_face")
    assert "'webcam-man'" in err["message"] and templates(server, "webcam-twin") == 0
    forced = upload(hr, "webcam-twin", webcam, force="true", max_templates="1")
    assert forced.status_code == 201, forced.text
    assert [s["employee_id"] for s in forced.json()["similar_to"]] == ["webcam-man"]


def test_bad_clips_are_refused_with_the_reason(
    server: OfficeServer, hr: httpx.Client, faces_dir: Path, webcam: bytes, tmp_path: Path
) -> None:
    create(hr, "nobody-yet")
    two = write_clip(tmp_path / "two.avi", [load_image(faces_dir / "multi_face/two_people.jpg")] * 8)
    err = assert_error(upload(hr, "nobody-yet", two.read_bytes(), "two.avi"), 422, "several_faces")
    assert "two or more people in 8 of 8 frames" in err["message"]
    blank = write_clip(tmp_path / "blank.avi", [np.full((240, 320, 3), 90, np.uint8)] * 5)
    err = assert_error(upload(hr, "nobody-yet", blank.read_bytes(), "blank.avi"), 422, "no_usable_face")
    assert "no_face=5" in err["message"]
    assert_error(upload(hr, "nobody-yet", b"not a clip at all"), 415, "unsupported_type")
    assert_error(upload(hr, "nobody-yet", b""), 422, "empty")
    truncated = upload(hr, "nobody-yet", webcam[:3000])  # the header, hardly a frame
    assert truncated.status_code == 422, truncated.text
    assert_error(upload(hr, "no-such-person", webcam), 404, "not_found")
    r = upload(hr, "nobody-yet", webcam, max_templates="0")
    assert r.status_code == 422, r.text
    assert templates(server, "nobody-yet") == 0
