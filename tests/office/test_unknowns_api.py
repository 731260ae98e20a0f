"""Unknown visitors over HTTP: groups of faces that devices uploaded, their crops, enrolling a group,
and the retention purge (real server, real PostgreSQL, real embeddings of real photos)."""

from __future__ import annotations

import csv
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import insert

from sputnik_edge.central.schema import unknown_faces
from sputnik_edge.office.config import OfficeSettings
from sputnik_edge.vision.imageio import load_image
from tests.office.conftest import OfficeServer, add_user, new_token, office_settings

pytestmark = pytest.mark.integration


def test_groups_crops_enrol_and_purge(
    new_database: Callable[[bool], str],
    server_factory: Callable[[OfficeSettings], OfficeServer],
    recognizer,  # type: ignore[no-untyped-def]
    faces_dir: Path,
) -> None:
    db = new_database(True)
    server = server_factory(
        office_settings(db, office={"unknown_visitors": True, "unknown_retention_days": 30})
    )
    central = server.central
    add_user(central, "u-hr", "hr")
    add_user(central, "u-viewer", "viewer")
    hr = server.client(headers={"Authorization": f"Bearer {new_token(central, 'u-hr')}"})
    viewer = server.client(headers={"Authorization": f"Bearer {new_token(central, 'u-viewer')}"})

    people: dict[str, list[Path]] = {}
    with (faces_dir / "labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            people.setdefault(row["identity"], []).append(faces_dir / row["path"])
    now = datetime.now(UTC)
    rows, owner = [], {}
    for who, paths, age_days in (
        ("rose_leslie", people["rose_leslie"], 1),
        ("joe_biden", people["joe_biden"], 45),
    ):
        for k, path in enumerate(paths):
            vec, _ = recognizer.enrollment_template(load_image(path), str(path))
            event_id = str(uuid.uuid4())
            owner[event_id] = who
            rows.append({
                "event_id": event_id, "device_id": "door-1", "camera_id": "hall",
                "captured_at": now - timedelta(days=age_days, minutes=k), "model_id": recognizer.model_id,
                "embedding": np.asarray(vec, "<f4").tobytes(), "crop": b"\\xff\\xd8" + who.encode(),
            })  # fmt: skip
    with central.engine.begin() as conn:
        conn.execute(insert(unknown_faces), rows)

    assert viewer.get("/api/v1/unknowns").status_code == 403
    body = hr.get("/api/v1/unknowns").json()
    assert body["enabled"] is True
    # Joe Biden's faces are 45 days old: purged by the 30-day retention when the groups are listed.
    assert [g["size"] for g in body["groups"]] == [2]
    group = body["groups"][0]
    assert {owner[f["event_id"]] for f in group["faces"]} == {"rose_leslie"}
    crop = hr.get(f"/api/v1/unknowns/faces/{group['faces'][0]['event_id']}/crop.jpg")
    assert crop.status_code == 200 and crop.content.endswith(b"rose_leslie")
    assert crop.headers["cache-control"] == "no-store"

    r = hr.post(
        f"/api/v1/unknowns/{group['group_id']}/enroll", json={"employee_id": "rose", "full_name": "Rose L"}
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"employee_id": "rose", "templates": 2}
    assert hr.get("/api/v1/unknowns").json()["groups"] == []
    assert hr.get("/api/v1/employees/rose").json()["templates"] == 2
    # The new templates identify her on a photo now.
    photo = people["rose_leslie"][0].read_bytes()
    faces = hr.post("/api/v1/recognition/identify", files={"file": ("p.jpg", photo, "image/jpeg")}).json()
    assert any(f["employee_id"] == "rose" for f in faces["faces"])
    missing = hr.post(f"/api/v1/unknowns/{group['group_id']}/enroll", json={"employee_id": "rose"})
    assert missing.status_code == 404
