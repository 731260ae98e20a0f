"""Builders for the attendance service tests: employees, events through the device push path,
local times."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text

from sputnik_edge.attendance.types import AttendanceEvent, EventKind
from sputnik_edge.central.schema import employees
from sputnik_edge.central.store import CentralStore

MSK = ZoneInfo("Europe/Moscow")  # UTC+3 all year
BERLIN = ZoneInfo("Europe/Berlin")  # CET, CEST from 2024-03-31 02:00
LATER = datetime(2030, 1, 1, tzinfo=UTC)  # every row of these tests is closed by then
OFFICE_WEEK = [["09:00", "18:00"]] * 5 + [None, None]


def local(tz: tzinfo, day: date, hh: int, mm: int = 0, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, fold=fold), tzinfo=tz)


def add_employee(
    engine: Engine, employee_id: str, full_name: str, department: str | None = None, *, active: bool = True
) -> None:
    with engine.begin() as conn:
        conn.execute(
            employees.insert().values(
                employee_id=employee_id, full_name=full_name, department=department, is_active=active
            )
        )


def set_office_timezone(engine: Engine, name: str) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE settings SET value = :v WHERE key = 'office_timezone'"), {"v": name})


def event(
    employee_id: str | None,
    kind: EventKind,
    at: datetime,
    *,
    device: str = "door-1",
    camera: str = "entrance",
) -> AttendanceEvent:
    return AttendanceEvent(
        event_id=str(uuid.uuid4()),
        device_id=device,
        camera_id=camera,
        kind=kind,
        employee_id=employee_id,
        name=None,
        similarity=None if employee_id is None else 0.8,
        captured_at=at.astimezone(UTC),
    )


def push(store: CentralStore, events: Sequence[AttendanceEvent]) -> list[str]:
    """Stores the events as a device would; returns their ids in the given order."""
    assert store.push_events(events) == len(events)
    return [e.event_id for e in events]


def punches(store: CentralStore, employee_id: str, *pairs: tuple[EventKind, datetime]) -> list[str]:
    return push(store, [event(employee_id, kind, at) for kind, at in pairs])
