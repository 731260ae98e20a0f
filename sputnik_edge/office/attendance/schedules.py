"""Work schedules in ``work_schedules``: validation, storage, and the timesheet core's ``Schedules``.

The stored week is JSON, 7 entries Monday first, each null (a day off) or ["HH:MM", "HH:MM"]; an end
at or before the start is a shift that crosses midnight (equal times: a 24-hour shift).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, time, tzinfo
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.central.schema import employees, work_schedules
from sputnik_edge.office.attendance import checks
from sputnik_edge.office.attendance.types import ParameterError, ScheduleRow, ScheduleScope, ShiftTimes
from sputnik_edge.office.shifts import Schedule, Schedules, Shift

SCOPES: tuple[ScheduleScope, ...] = ("department", "employee")
MAX_GRACE_MINUTES = 240
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def check_scope(scope: object) -> ScheduleScope:
    if scope == "department":
        return "department"
    if scope == "employee":
        return "employee"
    raise ParameterError("scope", f"must be 'department' or 'employee', got {scope!r}")


def _clock(value: object, where: str) -> str:
    if not isinstance(value, str) or _HHMM.fullmatch(value) is None:
        raise ParameterError("week", f"{where} must be a 24-hour 'HH:MM' string, got {value!r}")
    return value


def check_week(week: object) -> tuple[ShiftTimes | None, ...]:
    """Seven entries, each None or a (start, end) pair of 'HH:MM' strings."""
    if isinstance(week, str | bytes) or not isinstance(week, Sequence):
        raise ParameterError("week", f"must be a list of 7 entries (Monday first), got {type(week).__name__}")
    if len(week) != 7:
        raise ParameterError("week", f"must have 7 entries (Monday first), got {len(week)}")
    checked: list[ShiftTimes | None] = []
    for i, entry in enumerate(week):
        where = f"week[{i}] ({WEEKDAY_NAMES[i]})"
        if entry is None:
            checked.append(None)
            continue
        if isinstance(entry, str | bytes) or not isinstance(entry, Sequence) or len(entry) != 2:
            raise ParameterError("week", f"{where} must be null or [start, end], got {entry!r}")
        checked.append((_clock(entry[0], f"{where} start"), _clock(entry[1], f"{where} end")))
    return tuple(checked)


def _parse_clock(value: str) -> time:
    hh, mm = value.split(":")
    return time(int(hh), int(mm))


def to_schedule(week: Sequence[ShiftTimes | None], grace_minutes: int, name: str) -> Schedule:
    shifts = tuple(None if e is None else Shift(_parse_clock(e[0]), _parse_clock(e[1])) for e in week)
    return Schedule(shifts, grace_minutes, name)


def _row(r: Any, tz: tzinfo) -> ScheduleRow:
    try:
        week = check_week(r.week)
    except ParameterError as exc:
        # Only this module writes the table; a bad row was written by hand and would make every
        # timesheet silently wrong if skipped, so it stops the report with its key.
        raise ValueError(f"work_schedules row ({r.scope}, {r.scope_key}) is malformed: {exc}") from None
    return ScheduleRow(r.scope, r.scope_key, week, int(r.grace_minutes), r.updated_at.astimezone(tz))


def set_schedule(
    conn: Connection, scope: object, scope_key: object, week: object, grace_minutes: object, tz: tzinfo
) -> ScheduleRow:
    checked_scope = check_scope(scope)
    key = checks.text(scope_key, "scope_key")
    checked_week = check_week(week)
    grace = checks.integer(grace_minutes, "grace_minutes", 0, MAX_GRACE_MINUTES)
    if checked_scope == "employee":
        known = conn.execute(select(employees.c.employee_id).where(employees.c.employee_id == key)).first()
        if known is None:
            raise ParameterError("scope_key", f"no employee {key!r}")
    values = {
        "scope": checked_scope,
        "scope_key": key,
        "week": [None if e is None else list(e) for e in checked_week],
        "grace_minutes": grace,
    }
    stmt = pg_insert(work_schedules).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[work_schedules.c.scope, work_schedules.c.scope_key],
        set_={"week": stmt.excluded.week, "grace_minutes": grace, "updated_at": func.now()},
    )
    row = conn.execute(stmt.returning(*work_schedules.c)).one()
    return _row(row, tz)


def list_schedules(conn: Connection, tz: tzinfo) -> list[ScheduleRow]:
    stmt = select(work_schedules).order_by(work_schedules.c.scope, work_schedules.c.scope_key)
    return [_row(r, tz) for r in conn.execute(stmt)]


def load_schedules(conn: Connection) -> Schedules:
    by_department: dict[str, Schedule] = {}
    by_employee: dict[str, Schedule] = {}
    for r in conn.execute(select(work_schedules)):
        checked = _row(r, UTC)  # updated_at is not part of a Schedule
        target = by_department if r.scope == "department" else by_employee
        target[r.scope_key] = to_schedule(checked.week, checked.grace_minutes, f"{r.scope}:{r.scope_key}")
    return Schedules(by_department=by_department, by_employee=by_employee)


def delete_schedule(conn: Connection, scope: object, scope_key: object) -> bool:
    checked_scope = check_scope(scope)
    key = checks.text(scope_key, "scope_key")
    stmt = delete(work_schedules).where(
        work_schedules.c.scope == checked_scope, work_schedules.c.scope_key == key
    )
    return bool(conn.execute(stmt).rowcount)


def delete_employee_schedule(conn: Connection, employee_id: str) -> int:
    stmt = delete(work_schedules).where(
        work_schedules.c.scope == "employee", work_schedules.c.scope_key == employee_id
    )
    return int(conn.execute(stmt).rowcount)
