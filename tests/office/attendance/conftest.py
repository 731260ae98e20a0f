"""Fixtures of the attendance service tests: one migrated database per test session on the
server of ``SPUTNIK_TEST_PG_URL`` (the integration tests' ``pg_admin_url``), emptied before each
test, and the helpers to fill it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from sputnik_edge.central.migrate import upgrade
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.tools.scratch_db import scratch_database
from tests.integration.conftest import pg_admin_url  # noqa: F401  (fixture: skips when PostgreSQL is down)

TABLES = (
    "employees, face_templates, face_photos, erasures, devices, attendance_events, settings, "
    "work_schedules, attendance_corrections, unknown_faces"
)


@pytest.fixture(scope="session")
def attendance_db_url(pg_admin_url: str) -> Iterator[str]:  # noqa: F811
    with scratch_database(pg_admin_url, prefix="sputnik_test_attendance") as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def attendance_engine(attendance_db_url: str) -> Iterator[Engine]:
    engine = create_engine(attendance_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(attendance_engine: Engine) -> Engine:
    """The session database, emptied, office time zone UTC."""
    with attendance_engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {TABLES}"))
        conn.execute(text("INSERT INTO settings (key, value) VALUES ('office_timezone', 'UTC')"))
    return attendance_engine


@pytest.fixture
def store(attendance_db_url: str, engine: Engine) -> Iterator[CentralStore]:
    central = CentralStore(attendance_db_url)
    try:
        yield central
    finally:
        central.close()


@pytest.fixture
def service(engine: Engine) -> AttendanceService:
    return AttendanceService(engine)
