"""Unknown visitors in the office: faces uploaded by devices are grouped per person, a group can
be enrolled as an employee (then its crops leave), and old crops are purged."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.pool import NullPool

from sputnik_edge.central.schema import face_templates, unknown_faces
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.unknowns import UnknownGroupNotFound, UnknownsService, group_labels
from sputnik_edge.vision.imageio import load_image
from tests.support.daemon import shared_recognizer

pytestmark = pytest.mark.integration


def test_group_labels_are_connected_components() -> None:
    a = np.array([1.0, 0.0, 0.0], np.float32)
    b = np.array([0.8, 0.6, 0.0], np.float32)  # cos(a, b) = 0.8
    c = np.array([0.28, 0.96, 0.0], np.float32)  # cos(b, c) = 0.8, cos(a, c) = 0.28: joined through b
    d = np.array([0.0, 0.0, 1.0], np.float32)
    labels = group_labels(np.stack([a, b, c, d]), 0.5)
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert list(group_labels(np.stack([a, b, c, d]), 0.9)) == [0, 1, 2, 3]
    assert len(group_labels(np.zeros((0, 3), np.float32), 0.5)) == 0


def photos(faces_dir: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    with (faces_dir / "labels.csv").open() as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["identity"], []).append(faces_dir / row["path"])
    return out


def test_groups_enrol_and_purge(central_url: str, faces_dir: Path) -> None:
    rec = shared_recognizer()
    people = photos(faces_dir)
    seen = {"alex_lacamoire": people["alex_lacamoire"], "kit_harington": people["kit_harington"][:2]}
    engine = create_engine(central_url, poolclass=NullPool)
    t0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
    owner: dict[str, str] = {}
    rows = []
    for n, (who, paths) in enumerate(sorted(seen.items())):
        for k, path in enumerate(paths):
            vec, _ = rec.enrollment_template(load_image(path), str(path))
            event_id = str(uuid.uuid4())
            owner[event_id] = who
            rows.append(
                {
                    "event_id": event_id,
                    "device_id": "door-1",
                    "camera_id": "hall",
                    "captured_at": t0 + timedelta(days=n, minutes=k),
                    "model_id": rec.model_id,
                    "embedding": np.asarray(vec, "<f4").tobytes(),
                    "crop": b"\xff\xd8fake",
                }
            )
    with engine.begin() as conn:
        conn.execute(insert(unknown_faces), rows)
    service = UnknownsService(engine, rec.model_id)
    groups = service.groups()
    assert [g.size for g in groups] == [3, 2]
    for g in groups:
        assert len({owner[f.event_id] for f in g.faces}) == 1  # one person per group
        assert g.group_id == g.faces[0].event_id and g.first_seen <= g.last_seen
    assert service.crop(groups[1].faces[0].event_id) == b"\xff\xd8fake"

    alex = next(g for g in groups if owner[g.group_id] == "alex_lacamoire")
    with CentralStore(central_url) as central:
        with pytest.raises(UnknownGroupNotFound, match="unknown employee id"):
            service.enroll_group(central, alex.group_id, employee_id="nobody")
        ids = service.enroll_group(central, alex.group_id, employee_id="alex", full_name="Alex L")
        assert len(ids) == 3
        assert any(e.employee_id == "alex" for e in central.list_employees())
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(face_templates)).scalar_one() == 3
    assert [g.size for g in service.groups()] == [2]  # alex's crops left with the enrolment
    with pytest.raises(UnknownGroupNotFound):
        service.group(alex.group_id)

    assert service.purge(t0 + timedelta(days=40), retention_days=30) == 2
    assert service.groups() == []
    engine.dispose()
