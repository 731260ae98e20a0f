"""Central schema: migrations, change_seq trigger, attendance_daily view."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.types import AttendanceEvent, EventKind
from sputnik_edge.central.migrate import downgrade, head_revision, upgrade
from sputnik_edge.central.schema import GALLERY_LOCK_KEY, metadata
from sputnik_edge.central.store import CentralStore

pytestmark = pytest.mark.integration

TABLES = {
    "employees",
    "face_templates",
    "face_photos",
    "devices",
    "attendance_events",
    "settings",
    "erasures",
}


def test_upgrade_creates_everything_and_is_idempotent(empty_db_url: str) -> None:
    assert upgrade(empty_db_url) == head_revision()
    engine = create_engine(empty_db_url, poolclass=NullPool)
    try:
        insp = inspect(engine)
        assert set(insp.get_table_names()) >= TABLES
        assert "attendance_daily" in insp.get_view_names()
        with engine.connect() as conn:
            triggers = set(
                conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")).scalars()
            )
            assert {"employees_change_seq", "face_templates_change_seq", "erasures_change_seq"} <= triggers
            tz = conn.execute(text("SELECT value FROM settings WHERE key = 'office_timezone'")).scalar()
            assert tz == "UTC"
            columns_before = {t: [c["name"] for c in insp.get_columns(t)] for t in TABLES}
        # Second run: no error, same revision, nothing recreated or duplicated.
        assert upgrade(empty_db_url) == head_revision()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM settings")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
        insp = inspect(engine)
        assert {t: [c["name"] for c in insp.get_columns(t)] for t in TABLES} == columns_before
    finally:
        engine.dispose()


def test_migration_matches_schema_module(central_url: str) -> None:
    engine = create_engine(central_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(ctx, metadata)
    finally:
        engine.dispose()
    assert diffs == []


def test_downgrade_to_base_and_back(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    assert downgrade(empty_db_url, "base") == ""
    engine = create_engine(empty_db_url, poolclass=NullPool)
    try:
        assert not TABLES & set(inspect(engine).get_table_names())
        assert upgrade(empty_db_url) == head_revision()
        assert set(inspect(engine).get_table_names()) >= TABLES
    finally:
        engine.dispose()


def test_trigger_uses_the_code_lock_key(central_url: str) -> None:
    engine = create_engine(central_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            src = conn.execute(
                text("SELECT prosrc FROM pg_proc WHERE proname = 'sputnik_bump_change_seq'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert f"pg_advisory_xact_lock({GALLERY_LOCK_KEY})" in src


def test_trigger_bumps_change_seq_on_insert_and_update(central_url: str) -> None:
    engine = create_engine(central_url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO employees (employee_id, full_name) VALUES ('a', 'A'), ('b', 'B')"))
            seq_rows = conn.execute(text("SELECT employee_id, change_seq FROM employees")).all()
            rows: dict[str, int] = {r[0]: r[1] for r in seq_rows}
            assert rows["a"] != rows["b"]
            created = conn.execute(text("SELECT updated_at FROM employees WHERE employee_id = 'a'")).scalar()
        with engine.begin() as conn:
            conn.execute(text("UPDATE employees SET department = 'R&D' WHERE employee_id = 'a'"))
            seq, updated = conn.execute(
                text("SELECT change_seq, updated_at FROM employees WHERE employee_id = 'a'")
            ).one()
            assert seq > max(rows.values())
            assert updated > created
            # An explicit change_seq from a client is overridden: only the sequence hands them out.
            conn.execute(
                text(
                    "INSERT INTO face_templates (template_id, employee_id, model_id, embedding, change_seq) "
                    "VALUES (:id, 'b', 'm', '\\x00000000', 1)"
                ),
                {"id": str(uuid.uuid4())},
            )
            tseq = conn.execute(text("SELECT change_seq FROM face_templates")).scalar_one()
            assert tseq > seq
            conn.execute(text("UPDATE face_templates SET deleted_at = now()"))
            assert conn.execute(text("SELECT change_seq FROM face_templates")).scalar_one() > tseq
    finally:
        engine.dispose()


def _event(employee_id: str, kind: EventKind, at: datetime) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="door-1",
        camera_id="entrance",
        kind=kind,
        employee_id=employee_id,
        name=None,
        similarity=0.8,
        captured_at=at,
    )


def test_attendance_daily_uses_office_timezone(central_store: CentralStore) -> None:
    # Europe/Berlin is UTC+1 in January: 23:30 UTC on Jan 9 is 00:30 local on Jan 10.
    central_store.set_office_timezone("Europe/Berlin")

    def t(h: int, m: int, d: int = 10) -> datetime:
        return datetime(2024, 1, d, h, m, tzinfo=UTC)

    central_store.push_events(
        [
            _event("e1", "check_in", t(23, 30, d=9)),  # local Jan 10 00:30: first in of Jan 10
            _event("e1", "check_in", t(7, 0)),  # local 08:00
            _event("e1", "check_out", t(16, 0)),  # local 17:00
            _event("e1", "check_out", t(22, 45)),  # local 23:45 Jan 10: last out of Jan 10
            _event("e1", "check_out", t(23, 15)),  # local 00:15 Jan 11: belongs to Jan 11
            _event("e1", "check_in", t(22, 0, d=8)),  # local 23:00 Jan 8
            _event("e2", "pass", t(12, 0)),
        ]
    )
    engine = central_store.engine
    with engine.connect() as conn:
        rows = {
            (r.employee_id, r.day): r
            for r in conn.execute(text("SELECT * FROM attendance_daily ORDER BY employee_id, day"))
        }
    assert set(rows) == {
        ("e1", date(2024, 1, 8)),
        ("e1", date(2024, 1, 10)),
        ("e1", date(2024, 1, 11)),
        ("e2", date(2024, 1, 10)),
    }
    jan10 = rows[("e1", date(2024, 1, 10))]
    assert jan10.first_in == datetime(2024, 1, 10, 0, 30)
    assert jan10.last_out == datetime(2024, 1, 10, 23, 45)
    assert jan10.events == 4
    assert rows[("e1", date(2024, 1, 11))].first_in is None
    assert rows[("e1", date(2024, 1, 11))].last_out == datetime(2024, 1, 11, 0, 15)
    assert rows[("e2", date(2024, 1, 10))].first_in is None

    # Same events, UTC office: the 23:30 check-in now belongs to Jan 9.
    central_store.set_office_timezone("UTC")
    with engine.connect() as conn:
        days = {
            r.day: r for r in conn.execute(text("SELECT * FROM attendance_daily WHERE employee_id = 'e1'"))
        }
    assert days[date(2024, 1, 9)].first_in == datetime(2024, 1, 9, 23, 30)
    assert days[date(2024, 1, 10)].first_in == datetime(2024, 1, 10, 7, 0)
    assert days[date(2024, 1, 10)].last_out == datetime(2024, 1, 10, 23, 15)
    assert central_store.office_timezone() == "UTC"


def test_unknown_timezone_is_rejected(central_store: CentralStore) -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        central_store.set_office_timezone("Mars/Olympus")
    assert central_store.office_timezone() == "UTC"


def test_event_kind_check_constraint(central_url: str) -> None:
    engine = create_engine(central_url, poolclass=NullPool)
    try:
        with pytest.raises(Exception, match="ck_attendance_events_kind"), engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO attendance_events (event_id, device_id, kind, captured_at) "
                    "VALUES (:id, 'd', 'teleport', :at)"
                ),
                {"id": str(uuid.uuid4()), "at": datetime.now(UTC) - timedelta(minutes=1)},
            )
    finally:
        engine.dispose()
