"""Employees over real HTTP: CRUD, search, pagination, photo enrolment with the real models on real
photos (accepted, refused with the quality reason, duplicate face), erasure, and the audit rows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import httpx
import pytest
from sqlalchemy import func, select

from sputnik_edge.central.schema import (
    attendance_corrections,
    attendance_events,
    employees,
    erasures,
    face_photos,
    face_templates,
    office_audit,
)
from sputnik_edge.office.config import OfficeSettings
from tests.office.conftest import OfficeServer, add_user, assert_error, audit_rows, new_token, office_settings

pytestmark = pytest.mark.integration

OBAMA = "images/barack_obama/obama.jpg"
OBAMA_480P = "images/barack_obama/obama-480p.jpg"
BIDEN = "images/joe_biden/biden.jpg"


@pytest.fixture(scope="module")
def hr(server: OfficeServer) -> httpx.Client:
    add_user(server.central, "hilda", "hr")
    return server.client(headers={"Authorization": f"Bearer {new_token(server.central, 'hilda')}"})


@pytest.fixture(scope="module")
def admin(server: OfficeServer) -> httpx.Client:
    add_user(server.central, "root", "admin")
    return server.client(headers={"Authorization": f"Bearer {new_token(server.central, 'root')}"})


def create(
    client: httpx.Client, employee_id: str, full_name: str, department: str | None = None
) -> dict[str, Any]:
    r = client.post(
        "/api/v1/employees",
        json={"employee_id": employee_id, "full_name": full_name, "department": department},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def upload(client: httpx.Client, employee_id: str, data: bytes, **form: str) -> httpx.Response:
    return client.post(
        f"/api/v1/employees/{employee_id}/photos", files={"file": ("p.jpg", data, "image/jpeg")}, data=form
    )


def encode(image: Any) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    return bytes(buf)


def count(server: OfficeServer, table: Any, *where: Any) -> int:
    with server.central.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def test_create_read_search_and_paginate(server: OfficeServer, hr: httpx.Client) -> None:
    made = create(hr, "ivanov", "Иванов Иван", "Склад")
    assert made["is_active"] is True and made["templates"] == 0 and made["department"] == "Склад"
    create(hr, "o-brien", "Conan O'Brien", "Sales")
    create(hr, "calc", "=cmd|' /C calc'!A0", "100% _real_")
    err = assert_error(hr.post("/api/v1/employees", json={"employee_id": "ivanov", "full_name": "Dup"}), 409)
    assert "ivanov" in err["message"]
    assert hr.get("/api/v1/employees/ivanov").json()["full_name"] == "Иванов Иван"
    assert_error(hr.get("/api/v1/employees/nobody"), 404, "not_found")

    def ids(**params: Any) -> list[str]:
        r = hr.get("/api/v1/employees", params=params)
        assert r.status_code == 200, r.text
        return [e["employee_id"] for e in r.json()["employees"]]

    assert ids(q="ИВАН") == ["ivanov"]  # any case, Cyrillic too
    assert ids(q="склад") == ["ivanov"]  # department
    assert ids(q="BRIEN") == ["o-brien"]  # id and name
    assert ids(q="%") == ["calc"]  # LIKE wildcards are literal
    assert ids(q="_real_") == ["calc"]
    page = hr.get("/api/v1/employees", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 3 and page["limit"] == 2 and page["offset"] == 1
    assert [e["employee_id"] for e in page["employees"]] == ["ivanov", "o-brien"]
    for bad in (
        {"employee_id": "has space", "full_name": "X"},
        {"employee_id": "a/b", "full_name": "X"},
        {"employee_id": "x" * 65, "full_name": "X"},
        {"employee_id": "ok", "full_name": "   "},
        {"employee_id": "ok", "full_name": "nul\x00byte"},
    ):
        assert_error(hr.post("/api/v1/employees", json=bad), 422, "invalid_request")


def test_update_deactivate_activate(server: OfficeServer, hr: httpx.Client) -> None:
    create(hr, "petrov", "Petrov", "IT")
    r = hr.patch("/api/v1/employees/petrov", json={"full_name": "Пётр Петров"})
    assert r.json()["full_name"] == "Пётр Петров" and r.json()["department"] == "IT"
    assert hr.patch("/api/v1/employees/petrov", json={"department": None}).json()["department"] is None
    assert_error(hr.patch("/api/v1/employees/petrov", json={"full_name": None}), 422)
    assert_error(hr.patch("/api/v1/employees/nobody", json={"full_name": "X"}), 404)
    assert hr.post("/api/v1/employees/petrov/deactivate").json()["is_active"] is False
    assert [
        e["employee_id"] for e in hr.get("/api/v1/employees", params={"active": False}).json()["employees"]
    ] == ["petrov"]
    assert hr.post("/api/v1/employees/petrov/activate").json()["is_active"] is True
    assert hr.patch("/api/v1/employees/petrov", json={"is_active": False}).json()["is_active"] is False
    actions = [e.action for e in audit_rows(server.central) if e.target_id == "petrov"]
    assert actions[:5] == [
        "employee_deactivated",
        "employee_activated",
        "employee_deactivated",
        "employee_updated",
        "employee_updated",
    ]
    # An unchanged value is no change: no audit row, no new change_seq for the devices.
    with server.central.engine.connect() as conn:
        seq = conn.execute(select(employees.c.change_seq).where(employees.c.employee_id == "petrov")).scalar()
    hr.patch("/api/v1/employees/petrov", json={"is_active": False})
    with server.central.engine.connect() as conn:
        assert (
            conn.execute(select(employees.c.change_seq).where(employees.c.employee_id == "petrov")).scalar()
            == seq
        )
    assert len([e for e in audit_rows(server.central) if e.target_id == "petrov"]) == 6


def test_photo_enrolment_with_the_real_models(
    server: OfficeServer, hr: httpx.Client, faces_dir: Path, recognizer: Any
) -> None:
    create(hr, "obama", "Barack Obama")
    r = upload(hr, "obama", (faces_dir / OBAMA).read_bytes())
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["model_id"] == recognizer.model_id
    assert body["quality"]["ok"] is True and body["photo_stored"] is False and body["similar_to"] == []
    assert hr.get("/api/v1/employees/obama").json()["templates"] == 1
    assert count(server, face_templates, face_templates.c.employee_id == "obama") == 1
    assert count(server, face_photos) == 0  # central.store_photos is off
    # A device's next gallery pull carries the template, tied to its model id.
    delta = server.central.pull_gallery(recognizer.model_id, 0)
    assert [t.template_id for t in delta.templates] == [body["template_id"]]
    assert server.central.pull_gallery("another-model", 0).templates == []
    entry = next(e for e in audit_rows(server.central, "employee_photo_enrolled") if e.target_id == "obama")
    assert entry.trace_id == r.headers["X-Trace-ID"]
    assert set(entry.details or {}) == {"template_id", "model_id", "quality", "photo_stored", "forced_over"}


def test_bad_photos_are_refused_with_the_reason(
    server: OfficeServer, hr: httpx.Client, faces_dir: Path
) -> None:
    create(hr, "biden", "Joe Biden")
    image = cv2.imread(str(faces_dir / OBAMA))
    tiny_face = cv2.copyMakeBorder(
        cv2.resize(image, None, fx=0.1, fy=0.1, interpolation=cv2.INTER_AREA),
        100, 100, 100, 100, cv2.BORDER_CONSTANT, value=(128, 128, 128),
    )  # fmt: skip
    err = assert_error(upload(hr, "biden", encode(tiny_face)), 422, "face_too_small")
    assert "face_too_small" in err["message"]
    assert_error(upload(hr, "biden", encode(cv2.GaussianBlur(image, (0, 0), 6))), 422, "blurry")
    grey = encode(cv2.resize(image[:10, :10], (200, 200)) * 0 + 128)
    assert_error(upload(hr, "biden", grey), 422, "no_face")
    assert_error(upload(hr, "biden", b"not an image at all"), 415, "not_an_image")
    assert_error(upload(hr, "biden", encode(image[:60, :60])), 422, "too_small")
    assert_error(upload(hr, "nobody", (faces_dir / BIDEN).read_bytes()), 404, "not_found")
    assert count(server, face_templates, face_templates.c.employee_id == "biden") == 0
    assert upload(hr, "biden", (faces_dir / BIDEN).read_bytes()).status_code == 201


def test_the_same_face_for_a_second_employee_is_refused_unless_forced(
    server: OfficeServer, hr: httpx.Client, faces_dir: Path
) -> None:
    create(hr, "obama-twin", "Not Obama")
    same_face = (faces_dir / OBAMA_480P).read_bytes()
    err = assert_error(upload(hr, "obama-twin", same_face), 409, "duplicate_face")
    assert "'obama'" in err["message"] and "force=true" in err["message"]
    assert count(server, face_templates, face_templates.c.employee_id == "obama-twin") == 0
    # Another photo of the employee himself is no conflict.
    assert upload(hr, "obama", same_face).status_code == 201
    r = upload(hr, "obama-twin", same_face, force="true")
    assert r.status_code == 201, r.text
    assert [s["employee_id"] for s in r.json()["similar_to"]] == ["obama"]
    entry = next(
        e for e in audit_rows(server.central, "employee_photo_enrolled") if e.target_id == "obama-twin"
    )
    assert (entry.details or {})["forced_over"] == ["obama"]
    # Now the face is on two employees: a third is refused, naming the most similar.
    create(hr, "obama-3", "Third")
    assert "force=true" in assert_error(upload(hr, "obama-3", same_face), 409)["message"]


def test_photos_are_kept_only_with_store_photos(
    db_url: str, server_factory: Callable[[OfficeSettings], OfficeServer], faces_dir: Path
) -> None:
    keeping = server_factory(office_settings(db_url, central={"store_photos": True}))
    add_user(keeping.central, "keeper", "hr")
    c = keeping.client(headers={"Authorization": f"Bearer {new_token(keeping.central, 'keeper')}"})
    create(c, "rose", "Rose Leslie")
    data = (faces_dir / "images/rose_leslie/img1.jpg").read_bytes()
    r = upload(c, "rose", data)
    assert r.status_code == 201 and r.json()["photo_stored"] is True
    with keeping.central.engine.connect() as conn:
        stored = conn.execute(select(face_photos.c.image).where(face_photos.c.employee_id == "rose")).scalar()
    assert bytes(stored) == data


def test_delete_is_erasure_everywhere(server: OfficeServer, hr: httpx.Client, faces_dir: Path) -> None:
    create(hr, "leaver", "Kit Harington", "Night Watch")
    assert (
        upload(hr, "leaver", (faces_dir / "images/kit_harington/john1.jpeg").read_bytes()).status_code == 201
    )
    hr.patch("/api/v1/employees/leaver", json={"department": "Castle Black"})
    event_id = str(uuid.uuid4())
    with server.central.engine.begin() as conn:
        conn.execute(
            attendance_events.insert().values(
                event_id=event_id, device_id="door-1", employee_id="leaver", kind="check_in",
                captured_at=datetime.now(UTC),
            )
        )  # fmt: skip
        for row in (
            {"action": "void", "event_id": event_id, "reason": "tailgating"},
            {"action": "add", "employee_id": "leaver", "punch_kind": "check_out", "at": datetime.now(UTC),
             "reason": "forgot"},
        ):  # fmt: skip
            conn.execute(
                attendance_corrections.insert().values(
                    correction_id=str(uuid.uuid4()), created_by="hilda", **row
                )
            )
    r = hr.delete("/api/v1/employees/leaver")
    assert r.status_code == 204, r.text
    assert_error(hr.get("/api/v1/employees/leaver"), 404)
    assert count(server, employees, employees.c.employee_id == "leaver") == 0
    assert count(server, face_templates, face_templates.c.employee_id == "leaver") == 0
    assert count(server, attendance_events, attendance_events.c.employee_id == "leaver") == 0
    assert count(server, attendance_corrections) == 0
    assert count(server, erasures, erasures.c.employee_id == "leaver") == 1  # the devices' tombstone
    with server.central.engine.connect() as conn:
        about = conn.execute(select(office_audit).where(office_audit.c.target_id == "leaver")).all()
    erased = [a for a in about if a.action == "employee_erased"]
    assert len(erased) == 1 and erased[0].details == {"corrections_removed": 2}
    assert all(a.details is None for a in about if a.action != "employee_erased")  # names scrubbed
    assert "Kit Harington" not in str(about) and "Castle Black" not in str(about)
    assert_error(hr.delete("/api/v1/employees/leaver"), 404)


def test_audit_log_for_admins_with_filters_and_a_cursor(
    server: OfficeServer, hr: httpx.Client, admin: httpx.Client
) -> None:
    r = create(hr, "audited", "Audited Person")
    assert r["employee_id"] == "audited"
    assert_error(hr.get("/api/v1/audit"), 403, "forbidden")
    page = admin.get("/api/v1/audit", params={"action": "employee_created", "actor": "HILDA"}).json()
    assert page["entries"] and all(e["action"] == "employee_created" for e in page["entries"])
    assert page["entries"][0]["target_id"] == "audited"  # newest first
    assert page["entries"][0]["details"] == {
        "full_name": "Audited Person",
        "department": None,
        "is_active": True,
    }
    seen: list[int] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        body = admin.get("/api/v1/audit", params=params).json()
        seen += [e["audit_id"] for e in body["entries"]]
        if body["next_before"] is None:
            break
        params["before"] = body["next_before"]
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) == len(
        audit_rows(server.central)
    )
    future = admin.get("/api/v1/audit", params={"from": "2999-01-01T00:00:00Z"}).json()
    assert future == {"entries": [], "next_before": None}
    past = admin.get("/api/v1/audit", params={"to": "2000-01-01T00:00:00"}).json()
    assert past["entries"] == []
    text = str(admin.get("/api/v1/audit", params={"limit": 1000}).json())
    assert "password" not in text.lower() and "spo_" not in text.replace("'hint': 'spo_", "")
