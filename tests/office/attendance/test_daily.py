"""The daily view: one row per active employee, in the office zone, by the timesheet rules."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine

from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import ParameterError
from tests.office.attendance.helpers import (
    LATER,
    MSK,
    OFFICE_WEEK,
    add_employee,
    local,
    punches,
    set_office_timezone,
)

pytestmark = pytest.mark.integration

MON, TUE = date(2024, 6, 3), date(2024, 6, 4)


def by_id(rows: list) -> dict:  # type: ignore[type-arg]
    return {r.employee_id: r for r in rows}


def test_the_day_boundary_is_the_office_midnight(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    # No schedule: events count on their local calendar day. 20:30 UTC is 23:30 in Moscow (Monday)
    # and 21:30 UTC is 00:30 Tuesday; in UTC both would be Monday.
    set_office_timezone(engine, "Europe/Moscow")
    add_employee(engine, "ann", "Анна Петрова")
    punches(
        store,
        "ann",
        ("check_in", datetime(2024, 6, 3, 5, 0, tzinfo=UTC)),  # 08:00 MSK
        ("check_out", datetime(2024, 6, 3, 20, 30, tzinfo=UTC)),  # 23:30 MSK
        ("check_in", datetime(2024, 6, 3, 21, 30, tzinfo=UTC)),  # 00:30 MSK Tuesday
    )
    mon = by_id(service.daily(MON, now=LATER))["ann"]
    assert mon.first_in == local(MSK, MON, 8) and mon.first_in.tzinfo == MSK
    assert mon.last_out == local(MSK, MON, 23, 30)
    assert (mon.events, mon.worked_minutes, mon.in_now, mon.present) == (2, 15 * 60 + 30, False, True)
    tue = by_id(service.daily(TUE, now=LATER))["ann"]
    assert tue.first_in == local(MSK, TUE, 0, 30) and tue.last_out is None
    assert (tue.events, tue.in_now, tue.missing_out) == (1, True, True)
    # The same rows in UTC: everything on Monday, the last punch a check-in.
    set_office_timezone(engine, "UTC")
    mon_utc = by_id(service.daily(MON, now=LATER))["ann"]
    assert (mon_utc.events, mon_utc.in_now) == (3, True)
    assert by_id(service.daily(TUE, now=LATER))["ann"].events == 0


def test_present_late_absent_and_in_now_with_schedules(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    set_office_timezone(engine, "Europe/Moscow")
    for who, name in (("ann", "Ann"), ("bob", "Bob"), ("cat", "Cat")):
        add_employee(engine, who, name, "it")
    add_employee(engine, "dan", "Dan", "it", active=False)
    add_employee(engine, "eve", "Eve", "sales")
    service.set_schedule("department", "it", OFFICE_WEEK, grace_minutes=5)

    def at(hh: int, mm: int = 0) -> datetime:
        return local(MSK, MON, hh, mm)

    punches(store, "ann", ("check_in", at(9, 12)), ("check_out", at(18, 1)))
    punches(
        store, "cat", ("check_in", at(8, 55)), ("check_out", at(12)), ("check_in", at(13)), ("pass", at(14))
    )
    punches(store, "cat", ("check_in", at(2)))  # 02:00: outside Monday's window, listed not counted
    punches(store, "dan", ("check_in", at(9)))
    rows = by_id(service.daily(MON, department="it", now=LATER))
    # Dan is inactive, Eve in another department.
    assert set(rows) == {"ann", "bob", "cat"}
    ann, bob, cat = rows["ann"], rows["bob"], rows["cat"]
    # 09:12 is past 09:00 + 5: 12 minutes late.
    assert (ann.present, ann.late, ann.late_minutes, ann.absent, ann.in_now) == (True, True, 12, False, False)
    assert (ann.events, ann.worked_minutes) == (2, 8 * 60 + 49)
    assert (bob.present, bob.absent, bob.events, bob.in_now) == (False, True, 0, False)
    # Cat: in 08:55, out 12:00, back 13:00; the pass and the 02:00 check-in do not count.
    assert (cat.present, cat.late, cat.events, cat.in_now, cat.missing_out) == (True, False, 3, True, False)
    assert cat.last_out == at(12) and cat.scheduled_start == at(9) and cat.scheduled_end == at(18)
    # The same day while it is running: nobody is absent yet.
    live = by_id(service.daily(MON, department="it", now=at(10)))
    assert not live["bob"].absent and live["bob"].pending


def test_corrections_apply(engine: Engine, store: CentralStore, service: AttendanceService) -> None:
    add_employee(engine, "ann", "Ann", "it")
    service.set_schedule("department", "it", OFFICE_WEEK, grace_minutes=5)
    (wrong,) = punches(store, "ann", ("check_in", local(UTC, MON, 9, 40)))
    service.add_correction(actor="hr", reason="camera late", action="void", event_id=wrong)
    service.add_correction(
        actor="hr",
        reason="arrived on time",
        action="add",
        employee_id="ann",
        punch_kind="check_in",
        at=local(UTC, MON, 8, 58),
    )
    ann = by_id(service.daily(MON, now=LATER))["ann"]
    assert ann.first_in == local(UTC, MON, 8, 58)
    assert (ann.late, ann.late_minutes, ann.corrected, ann.events, ann.in_now) == (False, 0, True, 1, True)


def test_a_night_shift_keeps_its_morning(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    add_employee(engine, "nick", "Nick", "night")
    service.set_schedule("department", "night", [["22:00", "06:00"]] * 7)
    punches(store, "nick", ("check_in", local(UTC, MON, 21, 57)), ("check_out", local(UTC, TUE, 6, 4)))
    mon = by_id(service.daily(MON, now=LATER))["nick"]
    assert mon.last_out == local(UTC, TUE, 6, 4) and mon.worked_minutes == 8 * 60 + 7 and mon.events == 2
    tue = by_id(service.daily(TUE, now=LATER))["nick"]
    assert tue.events == 0 and tue.absent  # Tuesday's own night never started


def test_bad_day(service: AttendanceService) -> None:
    for bad in ("2024-06-03", datetime(2024, 6, 3, tzinfo=UTC), None):
        with pytest.raises(ParameterError) as info:
            service.daily(bad)  # type: ignore[arg-type]
        assert info.value.field == "day"
