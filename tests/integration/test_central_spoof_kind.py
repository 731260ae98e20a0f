"""Migration 0004: the central schema accepts spoof_suspected events, which never count as presence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from sputnik_edge.attendance.types import AttendanceEvent, EventKind
from sputnik_edge.central.migrate import downgrade, head_revision, upgrade
from sputnik_edge.central.store import CentralStore

pytestmark = pytest.mark.integration


def _event(kind: EventKind, at: datetime) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id="door-1",
        camera_id="entrance",
        kind=kind,
        employee_id="e1",
        name="E One",
        similarity=0.8,
        captured_at=at,
        details={"liveness": {"verdict": "spoof", "cues": ["border"]}},
    )


def test_spoof_suspected_is_stored_but_is_not_presence(central_store: CentralStore) -> None:
    central_store.push_events(
        [
            _event("spoof_suspected", datetime(2024, 1, 10, 6, 0, tzinfo=UTC)),
            _event("check_in", datetime(2024, 1, 10, 8, 0, tzinfo=UTC)),
            _event("spoof_suspected", datetime(2024, 1, 10, 19, 0, tzinfo=UTC)),
        ]
    )
    with central_store.engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind FROM attendance_events ORDER BY captured_at")).scalars().all()
        day = conn.execute(text("SELECT * FROM attendance_daily WHERE employee_id = 'e1'")).one()
    assert kinds == ["spoof_suspected", "check_in", "spoof_suspected"]
    # The 06:00 and 19:00 spoofs move neither the first in nor the last out.
    assert day.first_in == datetime(2024, 1, 10, 8, 0)
    assert day.last_out is None
    assert day.events == 1  # the spoof attempts are not in the view at all


def test_a_day_of_only_spoof_attempts_has_no_daily_row(central_store: CentralStore) -> None:
    central_store.push_events([_event("spoof_suspected", datetime(2024, 1, 11, 9, 0, tzinfo=UTC))])
    with central_store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM attendance_daily WHERE employee_id = 'e1'")).all()
    assert rows == []


def test_downgrade_to_0003_drops_spoof_events_then_upgrades_again(empty_db_url: str) -> None:
    upgrade(empty_db_url)
    engine = create_engine(empty_db_url, poolclass=NullPool)
    insert = text(
        "INSERT INTO attendance_events (event_id, device_id, kind, captured_at) "
        "VALUES (:id, 'd', :kind, now())"
    )
    try:
        with engine.begin() as conn:
            conn.execute(insert, {"id": str(uuid.uuid4()), "kind": "spoof_suspected"})
            conn.execute(insert, {"id": str(uuid.uuid4()), "kind": "check_in"})
        assert downgrade(empty_db_url, "0003") == "0003"
        with engine.connect() as conn:
            assert conn.execute(text("SELECT kind FROM attendance_events")).scalars().all() == ["check_in"]
        with pytest.raises(Exception, match="ck_attendance_events_kind"), engine.begin() as conn:
            conn.execute(insert, {"id": str(uuid.uuid4()), "kind": "spoof_suspected"})
        assert upgrade(empty_db_url) == head_revision() == "0004"
        with engine.begin() as conn:
            conn.execute(insert, {"id": str(uuid.uuid4()), "kind": "spoof_suspected"})
    finally:
        engine.dispose()
