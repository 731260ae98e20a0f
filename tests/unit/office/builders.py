"""Shared builders for the office timesheet tests: events and sheets in one line each."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, tzinfo
from zoneinfo import ZoneInfo

from sputnik_edge.office.timesheet import (
    Correction,
    Employee,
    Schedule,
    Schedules,
    TimeEvent,
    Timesheet,
    build_timesheet,
)

MSK = ZoneInfo("Europe/Moscow")  # UTC+3 all year
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST
MON = date(2024, 6, 3)  # a Monday
LATER = datetime(2024, 12, 1, tzinfo=UTC)  # every row in these tests is closed by then
ANN = Employee("ann", "Анна Петрова", "it")
OFFICE_HOURS = Schedule.weekly(time(9), time(18), grace_minutes=5)

_ids = itertools.count(1)


def local(tz: tzinfo, day: date, hh: int, mm: int = 0, ss: int = 0, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss, fold=fold), tzinfo=tz)


def ev(
    kind: str,
    when: datetime,
    employee: str | None = "ann",
    eid: str | None = None,
    *,
    manual: bool = False,
    reason: str | None = None,
) -> TimeEvent:
    # Stored as the devices store it: UTC.
    return TimeEvent(eid or f"ev-{next(_ids)}", employee, kind, when.astimezone(UTC), manual, reason)


def sheet(
    events: Sequence[TimeEvent],
    schedule: Schedule | None = OFFICE_HOURS,
    *,
    corrections: Sequence[Correction] = (),
    start: date = MON,
    end: date | None = None,
    tz: tzinfo = MSK,
    now: datetime = LATER,
    employees: Sequence[Employee] = (ANN,),
    schedules: Schedules | None = None,
) -> Timesheet:
    if schedules is None:
        schedules = Schedules(by_department={"it": schedule} if schedule else {})
    return build_timesheet(employees, schedules, events, corrections, start, end or start, tz, now)
