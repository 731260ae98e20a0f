"""Timesheets built from the database, end to end: schedules, events pushed as a device pushes
them, HR corrections, the office zone; expected figures worked out by hand in the comments."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from sputnik_edge.central.schema import attendance_corrections, attendance_events
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import ParameterError
from sputnik_edge.office.timesheet import (
    AddPunch,
    Correction,
    Employee,
    TimeEvent,
    VoidEvent,
    build_timesheet,
    event_span,
)
from tests.office.attendance.helpers import (
    BERLIN,
    LATER,
    OFFICE_WEEK,
    add_employee,
    event,
    local,
    punches,
    push,
    set_office_timezone,
)

pytestmark = pytest.mark.integration

MON = date(2024, 3, 25)  # the week ends on Sunday 2024-03-31, when Berlin moves to CEST at 02:00
TUE, WED, THU, FRI, SAT, SUN = (MON + timedelta(days=i) for i in range(1, 7))


@pytest.fixture
def office(engine: Engine, store: CentralStore, service: AttendanceService) -> dict[str, str]:
    set_office_timezone(engine, "Europe/Berlin")
    add_employee(engine, "ann", "Ann", "office")
    add_employee(engine, "nick", "Nick", "office")
    add_employee(engine, "cat", "Cat", "office", active=False)  # left, but worked on Tuesday
    add_employee(engine, "dan", "Dan", "office", active=False)  # left before this week
    service.set_schedule("department", "office", OFFICE_WEEK, grace_minutes=5)
    nights = [["22:00", "06:00"], None, None, None, None, ["22:00", "06:00"], None]
    service.set_schedule("employee", "nick", nights, grace_minutes=5)

    def at(day: date, hh: int, mm: int = 0) -> datetime:
        return local(BERLIN, day, hh, mm)

    punches(store, "ann", ("check_in", at(MON, 9, 12)), ("check_out", at(MON, 18, 3)))
    punches(store, "ann", ("check_in", at(TUE, 8, 50)), ("check_out", at(TUE, 17, 30)))
    wrong, _ = punches(store, "ann", ("check_in", at(THU, 8, 55)), ("check_in", at(THU, 9, 20)))
    punches(store, "ann", ("check_in", at(FRI, 9, 0)))
    punches(store, "nick", ("check_in", at(MON, 22, 10)), ("check_out", at(TUE, 5, 40)))
    punches(store, "nick", ("check_in", at(SAT, 21, 58)), ("check_out", at(SUN, 6, 2)))
    punches(store, "cat", ("check_in", at(TUE, 9, 0)))
    service.add_correction(actor="hr", reason="colleague's badge", action="void", event_id=wrong)
    added = service.add_correction(
        actor="hr",
        reason="forgot to check out",
        action="add",
        employee_id="ann",
        punch_kind="check_out",
        at=at(THU, 18, 0),
    )
    return {"wrong": wrong, "added": added.correction_id}


def test_the_week_by_hand(service: AttendanceService, office: dict[str, str]) -> None:
    sheet = service.timesheet(MON, SUN, now=LATER)
    assert sheet.timezone == "Europe/Berlin"
    # Active people and the inactive one with a punch; Dan has none and is left out.
    assert [t.employee_id for t in sheet.totals] == ["ann", "cat", "nick"]
    assert len(sheet.rows) == 3 * 7

    def row(who: str, day: date):  # type: ignore[no-untyped-def]
        found = sheet.row(who, day)
        assert found is not None
        return found

    # Monday 09:12 (past 09:00 + 5 min grace: 12 min late) to 18:03: 8 h 51 min.
    mon = row("ann", MON)
    assert (mon.late_minutes, mon.early_leave_minutes, mon.worked_minutes) == (12, 0, 531)
    assert mon.first_in == local(BERLIN, MON, 9, 12) and mon.first_in.tzinfo == BERLIN
    # Tuesday 08:50 to 17:30: on time, 30 min early (before 17:55), 8 h 40 min.
    tue = row("ann", TUE)
    assert (tue.late_minutes, tue.early_leave_minutes, tue.worked_minutes) == (0, 30, 520)
    # Wednesday: scheduled, nothing, closed.
    assert row("ann", WED).absent and not row("ann", WED).present
    # Thursday: the 08:55 check-in is voided, so 09:20 is the first in (20 min late); HR added
    # the 18:00 check-out: 8 h 40 min, marked corrected with both reasons.
    thu = row("ann", THU)
    assert thu.first_in == local(BERLIN, THU, 9, 20) and thu.last_out == local(BERLIN, THU, 18)
    assert (thu.late_minutes, thu.early_leave_minutes, thu.worked_minutes) == (20, 0, 520)
    assert thu.corrected
    assert set(thu.correction_reasons) == {"voided: colleague's badge", "added: forgot to check out"}
    # Friday: in at 09:00, never out.
    fri = row("ann", FRI)
    assert fri.missing_out and not fri.absent and fri.worked_minutes == 0 and fri.late_minutes == 0
    assert not row("ann", SAT).absent and not row("ann", SUN).scheduled
    ann = sheet.totals_for("ann")
    assert ann is not None
    assert (ann.worked_minutes, ann.late_minutes, ann.early_leave_minutes) == (531 + 520 + 520, 32, 30)
    assert (ann.days_present, ann.days_absent, ann.days_late, ann.days_early_leave) == (4, 1, 2, 1)
    assert (ann.days_missing_out, ann.days_corrected) == (1, 1)


def test_night_shifts_count_to_the_day_they_start_also_across_the_dst_change(
    service: AttendanceService, office: dict[str, str]
) -> None:
    sheet = service.timesheet(MON, SUN, employee_id="nick", now=LATER)
    assert {r.employee_id for r in sheet.rows} == {"nick"}
    # Monday 22:10 to Tuesday 05:40 CET: 10 min late, 20 min early (before 05:55), 7 h 30 min,
    # all on Monday's row.
    mon = sheet.row("nick", MON)
    assert mon is not None
    assert (mon.late_minutes, mon.early_leave_minutes, mon.worked_minutes) == (10, 20, 450)
    assert mon.last_out == local(BERLIN, TUE, 5, 40)
    tue = sheet.row("nick", TUE)
    assert tue is not None and not tue.present and not tue.scheduled
    # Saturday 21:58 CET (20:58 UTC) to Sunday 06:02 CEST (04:02 UTC): the clock jumped from 02:00
    # to 03:00, so 8 h 04 min on the wall is 7 h 04 min worked; on time, not early.
    sat = sheet.row("nick", SAT)
    assert sat is not None
    assert sat.scheduled_end == local(BERLIN, SUN, 6)
    assert (sat.late_minutes, sat.early_leave_minutes, sat.worked_minutes) == (0, 0, 424)
    assert sat.last_out is not None and sat.last_out.utcoffset() == timedelta(hours=2)
    sun = sheet.row("nick", SUN)
    assert sun is not None and not sun.present


def test_inactive_people_show_only_with_punches_in_the_range(
    service: AttendanceService, office: dict[str, str]
) -> None:
    sheet = service.timesheet(MON, SUN, now=LATER)
    cat = sheet.row("cat", TUE)
    assert cat is not None and cat.first_in == local(BERLIN, TUE, 9) and cat.missing_out
    # Cat's one punch is on Tuesday: a sheet of the following week has no rows for her, though
    # its event span reaches back into Sunday.
    later = service.timesheet(MON + timedelta(days=7), SUN + timedelta(days=7), now=LATER)
    assert [t.employee_id for t in later.totals] == ["ann", "nick"]


def test_filters_and_pending_rows(service: AttendanceService, office: dict[str, str]) -> None:
    assert {t.employee_id for t in service.timesheet(MON, SUN, department="office", now=LATER).totals} == {
        "ann",
        "cat",
        "nick",
    }
    assert service.timesheet(MON, SUN, department="sales", now=LATER).rows == ()
    # On Wednesday at 10:00 Ann's Wednesday is still open: not absent yet, pending.
    wed = service.timesheet(WED, WED, employee_id="ann", now=local(BERLIN, WED, 10)).row("ann", WED)
    assert wed is not None and wed.pending and not wed.absent


def test_the_added_punch_can_be_voided_like_an_event(
    service: AttendanceService, office: dict[str, str]
) -> None:
    service.add_correction(actor="hr", reason="entered twice", action="void", event_id=office["added"])
    thu = service.timesheet(THU, THU, employee_id="ann", now=LATER).row("ann", THU)
    assert thu is not None and thu.last_out is None and thu.missing_out and thu.worked_minutes == 0
    assert "voided: entered twice" in thu.correction_reasons


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (date(2024, 1, 1), date(2025, 1, 1), "to"),  # 367 days
        (date(2024, 1, 2), date(2024, 1, 1), "to"),
        (datetime(2024, 1, 1, tzinfo=UTC), date(2024, 1, 2), "from"),
        ("2024-01-01", date(2024, 1, 2), "from"),
        (date(2024, 1, 1), None, "to"),
    ],
)
def test_bad_ranges_name_the_parameter(
    service: AttendanceService, start: object, end: object, field: str
) -> None:
    with pytest.raises(ParameterError) as info:
        service.timesheet(start, end)  # type: ignore[arg-type]
    assert info.value.field == field


def test_a_year_is_allowed_and_now_must_be_aware(engine: Engine, service: AttendanceService) -> None:
    add_employee(engine, "ann", "Ann")
    sheet = service.timesheet(date(2024, 1, 1), date(2024, 12, 31), now=LATER)  # 2024 has 366 days
    assert len(sheet.rows) == 366
    with pytest.raises(ParameterError) as info:
        service.timesheet(date(2024, 1, 1), date(2024, 1, 1), now=datetime(2024, 1, 1))
    assert info.value.field == "now"


def _raw_inputs(engine: Engine, since: datetime, until: datetime) -> tuple[list[TimeEvent], list[Correction]]:
    """Every punch and correction of the span, read without the service's reduction."""
    e, c = attendance_events, attendance_corrections
    with engine.connect() as conn:
        events = [
            TimeEvent(str(r.event_id), r.employee_id, r.kind, r.captured_at)
            for r in conn.execute(
                select(e).where(
                    e.c.captured_at >= since, e.c.captured_at < until, e.c.employee_id.is_not(None)
                )
            )
        ]
        corrections: list[Correction] = []
        for r in conn.execute(select(c)):
            if r.action == "void":
                corrections.append(VoidEvent(str(r.correction_id), str(r.event_id), r.reason))
            else:
                corrections.append(
                    AddPunch(str(r.correction_id), r.employee_id, r.punch_kind, r.at, r.reason)
                )
    return events, corrections


def test_the_database_sheet_equals_the_core_on_every_punch(
    engine: Engine, store: CentralStore, service: AttendanceService
) -> None:
    # Random punches over ten days around the DST change, for a day schedule, a night schedule,
    # and no schedule; some exactly on window edges and midnights, some at the same instant,
    # some voided, some added. The service reduces them in SQL; the core on all of them must
    # build the very same sheet.
    set_office_timezone(engine, "Europe/Berlin")
    people = [("ann", "day"), ("bob", "day"), ("nick", "night"), ("ole", None)]
    for who, dept in people:
        add_employee(engine, who, who.title(), dept)
    service.set_schedule("department", "day", OFFICE_WEEK, grace_minutes=5)
    service.set_schedule("department", "night", [["22:00", "06:00"]] * 7, grace_minutes=0)
    service.set_schedule("employee", "bob", [["07:00", "07:00"]] + [["13:30", "02:00"]] * 6, grace_minutes=10)
    rng = random.Random(11)
    first, last = date(2024, 3, 27), date(2024, 4, 5)
    since, until = event_span(first, last, BERLIN)
    edges = [local(BERLIN, first + timedelta(days=d), hh) for d in range(11) for hh in (0, 5, 9, 18, 22)]
    events = []
    for _ in range(700):
        who = rng.choice(people)[0]
        kind = rng.choice(["check_in", "check_out"])
        if rng.random() < 0.2:
            at = rng.choice(edges)
        else:
            at = since + timedelta(seconds=rng.randrange(int((until - since).total_seconds())))
        events.append(event(who, kind, at))  # type: ignore[arg-type]
    events.append(event("ann", "check_in", events[0].captured_at))  # a tie with another punch
    ids = push(store, events)
    for eid in rng.sample(ids, 25):
        service.add_correction(actor="hr", reason="void", action="void", event_id=eid)
    for _ in range(15):
        who = rng.choice(people)[0]
        at = since + timedelta(seconds=rng.randrange(int((until - since).total_seconds())))
        kind = rng.choice(["check_in", "check_out"])
        service.add_correction(
            actor="hr", reason="add", action="add", employee_id=who, punch_kind=kind, at=at
        )

    now = local(BERLIN, date(2024, 4, 3), 12)  # the last days are still open
    sheet = service.timesheet(first, last, now=now)
    raw_events, corrections = _raw_inputs(engine, since, until)
    employees = [Employee(t.employee_id, t.full_name, t.department) for t in sheet.totals]
    expected = build_timesheet(
        employees, service.get_schedules(), raw_events, corrections, first, last, BERLIN, now
    )
    assert sheet == expected
    assert since <= min(e.captured_at for e in events) and max(e.captured_at for e in events) < until
    assert sum(r.present for r in sheet.rows) > 20 and any(r.outside_window for r in sheet.rows)
