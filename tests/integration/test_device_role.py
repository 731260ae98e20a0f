"""deploy/sql/device_role.sql: a device with its restricted role can sync, and cannot read other
devices' rows nor change employees (real PostgreSQL, real psql, the real sync code)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.store import CentralStore
from sputnik_edge.central.sync import CentralSync
from sputnik_edge.config import Settings
from sputnik_edge.metrics import Metrics
from sputnik_edge.store.local import LocalStore
from tests.conftest import REPO_ROOT, require

pytestmark = pytest.mark.integration
SCRIPT = REPO_ROOT / "deploy" / "sql" / "device_role.sql"
MODEL = "sface_test"


def run_script(admin_url: str, device_id: str, password: str) -> subprocess.CompletedProcess[str]:
    require(shutil.which("psql") is not None, "psql missing (Debian: postgresql-client)")
    url = make_url(admin_url).set(drivername="postgresql").render_as_string(hide_password=False)
    return subprocess.run(
        [
            "psql",
            url,
            "-X",
            "-q",
            "-v",
            f"device_id={device_id}",
            "-v",
            f"password={password}",
            "-f",
            str(SCRIPT),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def event(device_id: str) -> AttendanceEvent:
    return AttendanceEvent(
        new_event_id(), device_id, "door", "check_in", "e1", "E One", 0.8, datetime.now(UTC)
    )


@pytest.fixture
def device_id(pg_admin_url: str) -> str:
    device = f"door-{uuid.uuid4().hex[:6]}"
    yield device
    admin = create_engine(pg_admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:  # the test database (and its grants) is dropped by its fixture
        conn.execute(text(f'DROP ROLE IF EXISTS "sputnik_device_{device}"'))
    admin.dispose()


def test_restricted_device_role(empty_db_url: str, device_id: str, tmp_path: Path) -> None:
    upgrade(empty_db_url)
    with CentralStore(empty_db_url) as admin:
        admin.upsert_employee("e1", "E One", "IT")
        admin.add_templates("e1", MODEL, np.eye(1, 128, dtype=np.float32), [0.9])
        admin.push_events([event("other-door")])
    res = run_script(empty_db_url, device_id, "pw-1")
    assert res.returncode == 0, res.stderr
    again = run_script(empty_db_url, device_id, "pw-2")  # idempotent: a second run changes the password
    assert again.returncode == 0, again.stderr

    role = f"sputnik_device_{device_id}"
    device_url = (
        make_url(empty_db_url).set(username=role, password="pw-2").render_as_string(hide_password=False)
    )

    # The device syncs with its role: pull the gallery, push its events, send its heartbeat.
    local = LocalStore(tmp_path / "edge.db", device_id=device_id)
    settings = Settings(device={"id": device_id}, central={"database_url": device_url})
    sync = CentralSync(settings, local, MODEL, Metrics())
    try:
        sync.central.check()
        assert sync.pull_once(force=True) > 0
        assert local.load_gallery(MODEL).n_employees == 1
        for _ in range(3):
            local.record_event(event(device_id))
        assert sync.push_once(force=True) == 3
        assert sync.heartbeat_once() is not None
        assert sync.status().last_error is None
    finally:
        sync.close()

    engine = create_engine(device_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            seen = conn.execute(text("SELECT device_id, count(*) FROM attendance_events GROUP BY 1")).all()
            assert seen == [(device_id, 3)]  # not the other door's event
            assert [r[0] for r in conn.execute(text("SELECT device_id FROM devices"))] == [device_id]
        forbidden = [
            "SELECT employee_id, similarity FROM attendance_events",
            "UPDATE employees SET full_name = 'x'",
            "DELETE FROM face_templates",
            "SELECT * FROM office_users",
            "SELECT * FROM face_photos",
            "SELECT embedding FROM unknown_faces",
            "INSERT INTO attendance_events (event_id, device_id, kind, captured_at) "
            f"VALUES ('{uuid.uuid4()}', 'other-door', 'check_in', now())",
        ]
        for sql in forbidden:
            with engine.connect() as conn, pytest.raises(ProgrammingError) as err:
                conn.execute(text(sql))
            assert "permission denied" in str(err.value) or "row-level security" in str(err.value), sql
    finally:
        engine.dispose()

    with CentralStore(empty_db_url) as admin:  # the office (owner role) still sees everything
        assert admin.count_events() == 4
