"""What the timesheet core needs, read from the central database for a range of days.

SQL does the cheap part: only check-ins and check-outs of the employees in scope inside the core's
``event_span``, collapsed in the database to the few that can change a row (``punches``, by the
stretches of ``reduce``), unordered: the core sorts what it gets. The rules stay in the core.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any, TypeVar

from sqlalchemy import Connection, Select, exists, or_, select

from sputnik_edge.central.schema import attendance_corrections, attendance_events, employees
from sputnik_edge.office.attendance.corrections import load_for_span
from sputnik_edge.office.attendance.punches import fetch_punches
from sputnik_edge.office.attendance.reduce import CellStats, StretchPlan
from sputnik_edge.office.attendance.schedules import load_schedules
from sputnik_edge.office.timesheet import (
    PUNCH_KINDS,
    Correction,
    Employee,
    Schedules,
    TimeEvent,
    event_span,
)

_PUNCH_KINDS = sorted(PUNCH_KINDS)

SelectT = TypeVar("SelectT", bound=Select[Any])


@dataclass(frozen=True, slots=True)
class Scope:
    department: str | None = None
    employee_id: str | None = None
    active_only: bool = False

    def employee_ids(self) -> Select[tuple[str]]:
        return self.where(select(employees.c.employee_id))

    def where(self, stmt: SelectT) -> SelectT:
        if self.department is not None:
            stmt = stmt.where(employees.c.department == self.department)
        if self.employee_id is not None:
            stmt = stmt.where(employees.c.employee_id == self.employee_id)
        if self.active_only:
            stmt = stmt.where(employees.c.is_active)
        return stmt


@dataclass(frozen=True, slots=True)
class SheetInputs:
    employees: list[Employee]
    inactive: frozenset[str]
    schedules: Schedules
    events: list[TimeEvent]
    corrections: list[Correction]
    stats: dict[tuple[str, date], CellStats]


def _employees(
    conn: Connection, scope: Scope, since: datetime, until: datetime
) -> list[tuple[Employee, bool]]:
    """Active employees in scope, and inactive ones with a punch or an added punch in the span (a
    person who left mid-month still has a timesheet for the days worked)."""
    e, c = attendance_events, attendance_corrections
    stmt = scope.where(
        select(employees.c.employee_id, employees.c.full_name, employees.c.department, employees.c.is_active)
    )
    if not scope.active_only:
        punched = exists().where(
            e.c.employee_id == employees.c.employee_id,
            e.c.captured_at >= since,
            e.c.captured_at < until,
            e.c.kind.in_(_PUNCH_KINDS),
        )
        added = exists().where(
            c.c.action == "add", c.c.employee_id == employees.c.employee_id, c.c.at >= since, c.c.at < until
        )
        stmt = stmt.where(or_(employees.c.is_active, punched, added))
    stmt = stmt.order_by(employees.c.full_name, employees.c.employee_id)
    return [
        (Employee(r.employee_id, r.full_name, r.department), bool(r.is_active)) for r in conn.execute(stmt)
    ]


def load_inputs(
    conn: Connection, start: date, end: date, tz: tzinfo, scope: Scope, *, with_stats: bool = False
) -> SheetInputs:
    since, until = event_span(start, end, tz)
    people = _employees(conn, scope, since, until)
    schedules = load_schedules(conn)
    schedule_of = {p.employee_id: schedules.for_employee(p.employee_id, p.department) for p, _ in people}
    in_scope = scope.employee_ids()
    adds, voids = load_for_span(conn, in_scope, since, until)
    voided = {v.event_id for v in voids}

    plan = StretchPlan.build(schedule_of, tz, since, until)
    stats: dict[tuple[str, date], CellStats] = {}
    events = fetch_punches(conn, plan, since, until, voided, stats if with_stats else None)
    if with_stats:
        for add in adds:
            if add.correction_id in voided:
                continue
            answer = plan.assign(add.employee_id, add.at, add.kind)
            if answer.counted:
                stats.setdefault((add.employee_id, answer.day), CellStats()).note(add.at, add.kind)
    corrections: list[Correction] = [*adds, *voids]
    return SheetInputs(
        employees=[p for p, _ in people],
        inactive=frozenset(p.employee_id for p, active in people if not active),
        schedules=schedules,
        events=events,
        corrections=corrections,
        stats=stats,
    )
