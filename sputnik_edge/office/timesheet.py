"""Timesheets from attendance events: schedules, shift-day assignment, HR corrections, day figures.

Pure: no database, no clock (the caller passes ``now``), no I/O. Instants are compared in UTC and
only converted to the office zone for calendar questions (which day, which weekday) and output.

Day assignment (schedules, night shifts, windows) is in ``shifts``; the rules here, in the BioStar 2
T&A spirit, "first in, last out":

- Only ``check_in`` and ``check_out`` count; ``pass``, ``unknown``, ``low_confidence`` and
  ``spoof_suspected`` (liveness) are ignored.
- An event outside its scheduled day's window is listed on the row but not counted, so HR sees it.
- worked = last_out - first_in in real elapsed minutes (a DST day counts what the clock lost or
  gained); last_out is the latest check-out at or after first_in. Minutes are whole, rounded down.
- late = minutes after start when first_in > start + grace; early leave = minutes before end when
  last_out < end - grace.
- A row is *pending* while more events can still be assigned to it: until its window closes (a
  scheduled day) or until the next local midnight (a day off). absent, missing_out and missing_in
  are only decided once a row is no longer pending; late, early leave and worked are shown as soon
  as the events exist and may still change while pending.
- absent: a scheduled day, not pending, with no counted check-in and no counted check-out. A day
  with a check-out only is not absent but ``missing_in`` (present, record incomplete).
- Corrections never delete: a voided event is skipped, an added punch is used, and every row either
  touches is marked corrected with the reasons.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

from sputnik_edge.office.shifts import (
    SHIFT_WINDOW_AFTER,
    SHIFT_WINDOW_BEFORE,
    Assignment,
    Schedule,
    Schedules,
    Shift,
    ShiftWindow,
    assign_day,
    event_span,
    local_instant,
    require_aware,
    shift_window,
)

# Re-exported so callers build a whole timesheet from one import.
__all__ = [
    "MAX_DAYS",
    "PUNCH_KINDS",
    "SHIFT_WINDOW_AFTER",
    "SHIFT_WINDOW_BEFORE",
    "AddPunch",
    "Assignment",
    "Correction",
    "DayRow",
    "Employee",
    "EmployeeTotals",
    "PunchKind",
    "Schedule",
    "Schedules",
    "Shift",
    "ShiftWindow",
    "TimeEvent",
    "Timesheet",
    "VoidEvent",
    "assign_day",
    "build_timesheet",
    "event_span",
    "local_instant",
    "shift_window",
]

PunchKind = Literal["check_in", "check_out"]
PUNCH_KINDS: frozenset[str] = frozenset({"check_in", "check_out"})
# A report request larger than a year is a mistake or abuse, not a timesheet.
MAX_DAYS = 366

_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Employee:
    employee_id: str
    full_name: str
    department: str | None = None


@dataclass(frozen=True, slots=True)
class TimeEvent:
    """An attendance event as stored. ``manual`` marks one HR entered rather than a device."""

    event_id: str
    employee_id: str | None
    kind: str
    captured_at: datetime
    manual: bool = False
    reason: str | None = None

    def __post_init__(self) -> None:
        require_aware(self.captured_at, "captured_at")


@dataclass(frozen=True, slots=True)
class AddPunch:
    """HR adds a check-in or check-out the device missed. ``correction_id`` doubles as the punch's
    event id, so a later correction can void it like any other event."""

    correction_id: str
    employee_id: str
    kind: PunchKind
    at: datetime
    reason: str

    def __post_init__(self) -> None:
        require_aware(self.at, "at")
        if self.kind not in PUNCH_KINDS:
            raise ValueError(f"an added punch is check_in or check_out, got {self.kind!r}")
        if not self.reason.strip():
            raise ValueError("a correction needs a reason")


@dataclass(frozen=True, slots=True)
class VoidEvent:
    """HR marks an event as not to be counted; the event itself stays in the database."""

    correction_id: str
    event_id: str
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ValueError("a correction needs a reason")


Correction = AddPunch | VoidEvent


@dataclass(frozen=True, slots=True)
class DayRow:
    employee_id: str
    full_name: str
    department: str | None
    day: date
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    first_in: datetime | None
    last_out: datetime | None
    worked_minutes: int
    late_minutes: int
    early_leave_minutes: int
    absent: bool
    missing_out: bool
    missing_in: bool
    pending: bool
    corrected: bool
    correction_reasons: tuple[str, ...] = ()
    outside_window: tuple[datetime, ...] = ()

    @property
    def scheduled(self) -> bool:
        return self.scheduled_start is not None

    @property
    def present(self) -> bool:
        return self.first_in is not None or self.last_out is not None


@dataclass(frozen=True, slots=True)
class EmployeeTotals:
    employee_id: str
    full_name: str
    department: str | None
    worked_minutes: int
    late_minutes: int
    early_leave_minutes: int
    days_present: int
    days_absent: int
    days_late: int
    days_early_leave: int
    days_missing_out: int
    days_corrected: int


@dataclass(frozen=True, slots=True)
class Timesheet:
    start_day: date
    end_day: date
    timezone: str
    rows: tuple[DayRow, ...]
    totals: tuple[EmployeeTotals, ...]
    # Voids naming an event that was not among the inputs: the caller fetched too narrow a span
    # or HR mistyped; reported rather than silently dropped.
    unmatched_voids: tuple[str, ...] = ()

    def totals_for(self, employee_id: str) -> EmployeeTotals | None:
        return next((t for t in self.totals if t.employee_id == employee_id), None)

    def row(self, employee_id: str, day: date) -> DayRow | None:
        return next((r for r in self.rows if r.employee_id == employee_id and r.day == day), None)


def _whole_minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


@dataclass(frozen=True, slots=True)
class _Punch:
    event_id: str
    employee_id: str
    kind: str
    at: datetime
    reason: str | None


@dataclass(slots=True)
class _Cell:
    ins: list[datetime] = field(default_factory=list)
    outs: list[datetime] = field(default_factory=list)
    outside: list[datetime] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    corrected: bool = False


def _collect_punches(
    events: Iterable[TimeEvent], corrections: Iterable[Correction]
) -> tuple[list[_Punch], dict[str, list[str]], set[str]]:
    """Events with an employee plus added punches (first copy of an id wins), void reasons by event
    id, and every event id seen (a void of an unknown-face event is matched, just not shown)."""
    punches: dict[str, _Punch] = {}
    voids: dict[str, list[str]] = defaultdict(list)
    known: set[str] = set()
    for ev in events:
        known.add(ev.event_id)
        if ev.employee_id is None or ev.event_id in punches:
            continue
        reason = "manual: " + (ev.reason or "entered by hand") if ev.manual else None
        punches[ev.event_id] = _Punch(
            ev.event_id, ev.employee_id, ev.kind, ev.captured_at.astimezone(UTC), reason
        )
    for c in corrections:
        if isinstance(c, AddPunch):
            known.add(c.correction_id)
            if c.correction_id not in punches:
                punches[c.correction_id] = _Punch(
                    c.correction_id, c.employee_id, c.kind, c.at.astimezone(UTC), "added: " + c.reason
                )
        else:
            voids[c.event_id].append("voided: " + c.reason)
    ordered = sorted(punches.values(), key=lambda p: (p.at, p.event_id))
    return ordered, voids, known


def _make_row(
    employee: Employee,
    day: date,
    window: ShiftWindow | None,
    grace: timedelta,
    cell: _Cell,
    tz: tzinfo,
    now: datetime,
) -> DayRow:
    ins, outs = sorted(cell.ins), sorted(cell.outs)
    first_in = ins[0] if ins else None
    if first_in is not None:
        after = [o for o in outs if o >= first_in]
        last_out = after[-1] if after else None
    else:
        last_out = outs[-1] if outs else None

    # A day off collects events until local midnight, a scheduled day until its window closes.
    closes = window.closes if window is not None else local_instant(day + _ONE_DAY, time(0), tz)
    pending = now < closes

    worked = _whole_minutes(last_out - first_in) if first_in is not None and last_out is not None else 0
    late = early = 0
    if window is not None and first_in is not None and first_in > window.start + grace:
        late = _whole_minutes(first_in - window.start)
    if window is not None and last_out is not None and last_out < window.end - grace:
        early = _whole_minutes(window.end - last_out)

    def local(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(tz)

    return DayRow(
        employee_id=employee.employee_id,
        full_name=employee.full_name,
        department=employee.department,
        day=day,
        scheduled_start=local(window.start) if window else None,
        scheduled_end=local(window.end) if window else None,
        first_in=local(first_in),
        last_out=local(last_out),
        worked_minutes=worked,
        late_minutes=late,
        early_leave_minutes=early,
        absent=window is not None and not pending and not ins and not outs,
        missing_out=first_in is not None and last_out is None and not pending,
        missing_in=first_in is None and bool(outs) and not pending,
        pending=pending,
        corrected=cell.corrected,
        correction_reasons=tuple(cell.reasons),
        outside_window=tuple(sorted(t.astimezone(tz) for t in cell.outside)),
    )


def _totals(employee: Employee, rows: Sequence[DayRow]) -> EmployeeTotals:
    return EmployeeTotals(
        employee_id=employee.employee_id,
        full_name=employee.full_name,
        department=employee.department,
        worked_minutes=sum(r.worked_minutes for r in rows),
        late_minutes=sum(r.late_minutes for r in rows),
        early_leave_minutes=sum(r.early_leave_minutes for r in rows),
        days_present=sum(1 for r in rows if r.present),
        days_absent=sum(1 for r in rows if r.absent),
        days_late=sum(1 for r in rows if r.late_minutes > 0),
        days_early_leave=sum(1 for r in rows if r.early_leave_minutes > 0),
        days_missing_out=sum(1 for r in rows if r.missing_out),
        days_corrected=sum(1 for r in rows if r.corrected),
    )


def build_timesheet(
    employees: Sequence[Employee],
    schedules: Schedules,
    events: Iterable[TimeEvent],
    corrections: Iterable[Correction],
    start_day: date,
    end_day: date,
    tz: tzinfo,
    now: datetime,
) -> Timesheet:
    """One row per employee and day in [start_day, end_day] (employees in the given order), plus
    per-employee totals. Events of employees not listed are ignored; fetch events over
    ``event_span(start_day, end_day, tz)`` so edge rows are complete."""
    require_aware(now, "now")
    if end_day < start_day:
        raise ValueError(f"end_day {end_day} is before start_day {start_day}")
    if (end_day - start_day).days + 1 > MAX_DAYS:
        raise ValueError(f"a timesheet covers at most {MAX_DAYS} days")
    now = now.astimezone(UTC)
    days = [start_day + timedelta(days=i) for i in range((end_day - start_day).days + 1)]

    punches, voids, known_ids = _collect_punches(events, corrections)
    by_employee: dict[str, list[_Punch]] = defaultdict(list)
    for p in punches:
        by_employee[p.employee_id].append(p)

    rows: list[DayRow] = []
    totals: list[EmployeeTotals] = []
    seen: set[str] = set()
    for employee in employees:
        if employee.employee_id in seen:
            continue
        seen.add(employee.employee_id)
        schedule = schedules.for_employee(employee.employee_id, employee.department)
        grace = timedelta(minutes=schedule.grace_minutes if schedule else 0)
        cells: dict[date, _Cell] = defaultdict(_Cell)
        for p in by_employee.get(employee.employee_id, ()):
            where = assign_day(p.at, p.kind, schedule, tz)
            if not start_day <= where.day <= end_day:
                continue
            cell = cells[where.day]
            void_reasons = voids.get(p.event_id)
            if void_reasons:
                cell.corrected = True
                cell.reasons.extend(void_reasons)
                continue
            if p.reason is not None:
                cell.corrected = True
                cell.reasons.append(p.reason)
            if p.kind not in PUNCH_KINDS:
                continue
            if not where.counted:
                cell.outside.append(p.at)
            elif p.kind == "check_in":
                cell.ins.append(p.at)
            else:
                cell.outs.append(p.at)

        employee_rows = []
        for day in days:
            shift = schedule.shift_on(day) if schedule else None
            window = shift_window(day, shift, tz) if shift else None
            employee_rows.append(_make_row(employee, day, window, grace, cells.get(day, _Cell()), tz, now))
        rows.extend(employee_rows)
        totals.append(_totals(employee, employee_rows))

    tz_name = getattr(tz, "key", None) or str(tz)
    unmatched = tuple(sorted(set(voids) - known_ids))
    return Timesheet(start_day, end_day, tz_name, tuple(rows), tuple(totals), unmatched)
