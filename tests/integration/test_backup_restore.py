"""docs/DEPLOY.md's backup and restore: pg_dump of a database with events, pg_restore into an empty
one, and the office reports the same timesheet from the restored copy."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.types import AttendanceEvent, new_event_id
from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.store import CentralStore
from tests.conftest import require

pytestmark = pytest.mark.integration


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def timesheet_csv(url: str, start: date, end: date) -> bytes:
    from sputnik_edge.office.attendance.service import AttendanceService
    from sputnik_edge.office.exports import timesheet_csv as render

    engine = create_engine(url, poolclass=NullPool)
    try:
        sheet = AttendanceService(engine).timesheet(start, end, now=datetime(2026, 12, 1, tzinfo=UTC))
        return render(sheet)
    finally:
        engine.dispose()


def test_dump_restore_gives_the_same_timesheet(central_url: str, empty_db_url: str, tmp_path: Path) -> None:
    for tool in ("pg_dump", "pg_restore"):
        require(shutil.which(tool) is not None, f"{tool} missing (Debian: postgresql-client)")
    with CentralStore(central_url) as central:
        central.set_office_timezone("Europe/Moscow")
        for i, (emp, name) in enumerate([("e1", "Анна Иванова"), ("e2", '=cmd|" /C calc"!A0')]):
            central.upsert_employee(emp, name, "IT")
            central.add_templates(emp, "m", np.eye(1, 128, k=i, dtype=np.float32), [0.9])
        events = []
        for day in range(1, 6):
            start = datetime(2026, 11, day, 6, 0, tzinfo=UTC)  # 09:00 in Moscow
            for emp, late in (("e1", 0), ("e2", 25)):
                ins = start + timedelta(minutes=late)
                events.append(
                    AttendanceEvent(new_event_id(), "door-1", "in", "check_in", emp, None, 0.8, ins)
                )
                out = start + timedelta(hours=9)
                events.append(
                    AttendanceEvent(new_event_id(), "door-1", "out", "check_out", emp, None, 0.8, out)
                )
        central.push_events(events)

    dump = tmp_path / "sputnik.dump"
    res = subprocess.run(
        ["pg_dump", "-Fc", "-f", str(dump), libpq(central_url)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    res = subprocess.run(
        ["pg_restore", "--no-owner", "-d", libpq(empty_db_url), str(dump)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    assert upgrade(empty_db_url) == upgrade(central_url)  # the restored copy is at head already

    before = timesheet_csv(central_url, date(2026, 11, 1), date(2026, 11, 30))
    after = timesheet_csv(empty_db_url, date(2026, 11, 1), date(2026, 11, 30))
    assert after == before
    assert "Анна Иванова".encode() in after and b"'=cmd" in after
