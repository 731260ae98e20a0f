"""Timesheet figures: late, early leave, absence, presence on days off, corrections, totals.

Expected numbers are worked out by hand in the comments from the wall-clock times in each test.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta

import pytest

from sputnik_edge.office.timesheet import (
    MAX_DAYS,
    AddPunch,
    DayRow,
    Employee,
    Schedule,
    Schedules,
    Shift,
    TimeEvent,
    VoidEvent,
)
from tests.unit.office.builders import ANN, LATER, MON, MSK, ev, local, sheet

TUE = MON + timedelta(days=1)
SAT = MON + timedelta(days=5)
SUN = MON + timedelta(days=6)


def one_row(rows: Sequence[DayRow], day: date = MON) -> DayRow:
    matches = [r for r in rows if r.day == day]
    assert len(matches) == 1
    return matches[0]


def test_late_arrival_counts_minutes_after_start_not_after_grace() -> None:
    ts = sheet([ev("check_in", local(MSK, MON, 9, 12)), ev("check_out", local(MSK, MON, 18, 3))])
    row = one_row(ts.rows)
    # 09:12 is past 09:00 + 5 min grace, so late is counted from 09:00: 12 minutes.
    assert row.late_minutes == 12
    assert row.early_leave_minutes == 0
    # 09:12 -> 18:03 is 8 h 51 min.
    assert row.worked_minutes == 8 * 60 + 51
    assert row.first_in == local(MSK, MON, 9, 12)
    assert row.first_in is not None and row.first_in.tzinfo == MSK
    assert not row.absent and not row.missing_out and not row.corrected


@pytest.mark.parametrize(
    ("hh", "mm", "ss", "late"),
    [
        (9, 5, 0, 0),  # exactly at the end of the grace: on time
        (9, 5, 30, 5),  # 30 s past the grace: late, whole minutes rounded down
        (8, 40, 0, 0),  # early
    ],
)
def test_grace_boundary(hh: int, mm: int, ss: int, late: int) -> None:
    ts = sheet([ev("check_in", local(MSK, MON, hh, mm, ss)), ev("check_out", local(MSK, MON, 18))])
    assert one_row(ts.rows).late_minutes == late


@pytest.mark.parametrize(("hh", "mm", "early"), [(17, 40, 20), (17, 55, 0), (17, 54, 6), (19, 0, 0)])
def test_early_leave(hh: int, mm: int, early: int) -> None:
    ts = sheet([ev("check_in", local(MSK, MON, 9)), ev("check_out", local(MSK, MON, hh, mm))])
    row = one_row(ts.rows)
    assert row.early_leave_minutes == early
    assert row.worked_minutes == (hh - 9) * 60 + mm


def test_first_in_last_out_ignores_the_punches_in_between() -> None:
    events = [
        ev("check_in", local(MSK, MON, 8, 50)),
        ev("check_out", local(MSK, MON, 13)),  # lunch
        ev("check_in", local(MSK, MON, 13, 45)),
        ev("check_out", local(MSK, MON, 18, 10)),
        ev("pass", local(MSK, MON, 20)),  # not a punch
        ev("unknown", local(MSK, MON, 7), employee=None),
        ev("low_confidence", local(MSK, MON, 7, 30)),
    ]
    row = one_row(sheet(events).rows)
    assert row.first_in == local(MSK, MON, 8, 50)
    assert row.last_out == local(MSK, MON, 18, 10)
    assert row.worked_minutes == 9 * 60 + 20  # 08:50 -> 18:10


def test_absent_only_once_the_shift_window_has_closed() -> None:
    # 09:00-18:00, window closes 18:00 + 6 h = midnight.
    at_evening = sheet([], now=local(MSK, MON, 20))
    assert one_row(at_evening.rows).pending
    assert not one_row(at_evening.rows).absent
    next_morning = sheet([], now=local(MSK, TUE, 0, 1))
    row = one_row(next_morning.rows)
    assert row.absent and not row.pending
    assert next_morning.totals[0].days_absent == 1


def test_future_days_are_pending_not_absent() -> None:
    ts = sheet([], start=MON, end=MON + timedelta(days=4), now=local(MSK, MON, 12))
    assert [r.absent for r in ts.rows] == [False] * 5
    assert all(r.pending for r in ts.rows)


def test_check_in_without_check_out_is_missing_out_after_the_window() -> None:
    events = [ev("check_in", local(MSK, MON, 9))]
    during = one_row(sheet(events, now=local(MSK, MON, 19)).rows)
    assert not during.missing_out and during.pending
    row = one_row(sheet(events).rows)
    assert row.missing_out and not row.absent
    assert row.worked_minutes == 0 and row.last_out is None


def test_check_out_before_the_first_check_in_is_not_a_last_out() -> None:
    events = [ev("check_out", local(MSK, MON, 8)), ev("check_in", local(MSK, MON, 9))]
    row = one_row(sheet(events).rows)
    assert row.last_out is None and row.missing_out and row.worked_minutes == 0


def test_check_out_only_is_missing_in_not_absent() -> None:
    row = one_row(sheet([ev("check_out", local(MSK, MON, 18))]).rows)
    assert row.missing_in and not row.absent and row.present
    assert row.early_leave_minutes == 0


def test_presence_on_an_unscheduled_day_without_late_or_absence() -> None:
    events = [ev("check_in", local(MSK, SAT, 10)), ev("check_out", local(MSK, SAT, 14, 30))]
    ts = sheet(events, start=SAT, end=SUN)
    sat, sun = one_row(ts.rows, SAT), one_row(ts.rows, SUN)
    assert not sat.scheduled and sat.present
    assert sat.worked_minutes == 4 * 60 + 30
    assert (sat.late_minutes, sat.early_leave_minutes, sat.absent) == (0, 0, False)
    assert not sun.present and not sun.absent
    assert ts.totals[0].days_present == 1 and ts.totals[0].days_absent == 0


def test_employee_without_any_schedule_gets_calendar_days() -> None:
    events = [ev("check_in", local(MSK, MON, 23)), ev("check_out", local(MSK, MON, 23, 30))]
    row = one_row(sheet(events, schedule=None).rows)
    assert not row.scheduled and row.worked_minutes == 30 and not row.absent


def test_night_shift_across_midnight_counts_to_the_start_day() -> None:
    night = Schedule.weekly(time(22), time(6), grace_minutes=10)
    events = [ev("check_in", local(MSK, MON, 21, 50)), ev("check_out", local(MSK, TUE, 6, 5))]
    ts = sheet(events, night, start=MON, end=TUE)
    mon, tue = one_row(ts.rows, MON), one_row(ts.rows, TUE)
    assert mon.first_in == local(MSK, MON, 21, 50)
    assert mon.last_out == local(MSK, TUE, 6, 5)
    assert mon.worked_minutes == 8 * 60 + 15  # 21:50 -> 06:05
    assert mon.scheduled_end == local(MSK, TUE, 6)
    assert (mon.late_minutes, mon.early_leave_minutes) == (0, 0)
    assert not tue.present and tue.absent  # Tuesday's own 22:00 shift had nobody


def test_night_shift_late_and_early() -> None:
    night = Schedule.weekly(time(22), time(6), grace_minutes=10)
    events = [ev("check_in", local(MSK, MON, 22, 30)), ev("check_out", local(MSK, TUE, 5))]
    row = one_row(sheet(events, night, start=MON, end=TUE).rows)
    assert row.late_minutes == 30
    assert row.early_leave_minutes == 60
    assert row.worked_minutes == 6 * 60 + 30


def test_overlapping_windows_go_to_the_nearest_shift() -> None:
    # Monday night 22:00-06:00, Tuesday day 08:00-17:00: the windows overlap from 04:00 to 12:00 on
    # Tuesday. 06:05 is 5 min from Monday's end, 07:50 is 10 min from Tuesday's start.
    week = (Shift(time(22), time(6)), Shift(time(8), time(17)), None, None, None, None, None)
    events = [
        ev("check_in", local(MSK, MON, 22)),
        ev("check_out", local(MSK, TUE, 6, 5)),
        ev("check_in", local(MSK, TUE, 7, 50)),
        ev("check_out", local(MSK, TUE, 17)),
    ]
    ts = sheet(events, Schedule(week), start=MON, end=TUE)
    mon, tue = one_row(ts.rows, MON), one_row(ts.rows, TUE)
    assert (mon.first_in, mon.last_out) == (local(MSK, MON, 22), local(MSK, TUE, 6, 5))
    assert (tue.first_in, tue.last_out) == (local(MSK, TUE, 7, 50), local(MSK, TUE, 17))


def test_events_outside_every_window_are_listed_not_counted() -> None:
    # 09:00-18:00 window opens at 05:00; Sunday is off, so 02:00 Monday belongs to no window.
    events = [
        ev("check_in", local(MSK, MON, 2)),
        ev("check_in", local(MSK, MON, 4, 59)),
        ev("check_out", local(MSK, MON, 12)),
    ]
    row = one_row(sheet(events).rows)
    assert row.first_in is None
    assert row.outside_window == (local(MSK, MON, 2), local(MSK, MON, 4, 59))
    assert row.missing_in
    # The window's first minute does count.
    row = one_row(sheet([ev("check_in", local(MSK, MON, 5)), ev("check_out", local(MSK, MON, 18))]).rows)
    assert row.first_in == local(MSK, MON, 5) and row.outside_window == ()


def test_voided_event_is_ignored_and_the_day_marked() -> None:
    stray = ev("check_in", local(MSK, MON, 7, 30), eid="misread")
    events = [stray, ev("check_in", local(MSK, MON, 9)), ev("check_out", local(MSK, MON, 18))]
    before = one_row(sheet(events).rows)
    assert before.first_in == local(MSK, MON, 7, 30) and not before.corrected
    voids = [VoidEvent("c1", "misread", "someone else recognised as Anna")]
    after = one_row(sheet(events, corrections=voids).rows)
    assert after.first_in == local(MSK, MON, 9)
    assert after.worked_minutes == 9 * 60
    assert after.corrected
    assert any("someone else recognised as Anna" in r for r in after.correction_reasons)


def test_void_of_an_unknown_event_is_reported() -> None:
    ts = sheet([ev("check_in", local(MSK, MON, 9))], corrections=[VoidEvent("c1", "nope", "typo")])
    assert ts.unmatched_voids == ("nope",)
    assert not one_row(ts.rows).corrected


def test_added_check_out_completes_the_day() -> None:
    events = [ev("check_in", local(MSK, MON, 9))]
    assert one_row(sheet(events).rows).missing_out
    added = AddPunch("c7", "ann", "check_out", local(MSK, MON, 18, 30), "camera offline")
    row = one_row(sheet(events, corrections=[added]).rows)
    assert row.last_out == local(MSK, MON, 18, 30)
    assert row.worked_minutes == 9 * 60 + 30
    assert not row.missing_out and row.corrected
    assert any("camera offline" in r for r in row.correction_reasons)


def test_added_punch_on_a_night_shift_marks_the_start_day_and_can_be_voided() -> None:
    night = Schedule.weekly(time(22), time(6))
    events = [ev("check_in", local(MSK, MON, 22))]
    added = AddPunch("c8", "ann", "check_out", local(MSK, TUE, 6), "forgot")
    ts = sheet(events, night, corrections=[added], start=MON, end=TUE)
    mon, tue = one_row(ts.rows, MON), one_row(ts.rows, TUE)
    assert mon.corrected and mon.worked_minutes == 8 * 60
    assert not tue.corrected
    undone = sheet(events, night, corrections=[added, VoidEvent("c9", "c8", "wrong day")], start=MON, end=TUE)
    assert one_row(undone.rows, MON).missing_out and one_row(undone.rows, MON).corrected


def test_manual_event_marks_the_day_corrected() -> None:
    events = [
        ev("check_in", local(MSK, MON, 9), manual=True, reason="badge left at home"),
        ev("check_out", local(MSK, MON, 18)),
    ]
    row = one_row(sheet(events).rows)
    assert row.corrected and row.correction_reasons == ("manual: badge left at home",)


def test_employee_override_beats_department_schedule() -> None:
    bob = Employee("bob", "Боб", "it")
    late_shift = Schedule.weekly(time(12), time(21))
    schedules = Schedules(
        by_department={"it": Schedule.weekly(time(9), time(18))}, by_employee={"ann": late_shift}
    )
    events = [
        ev(kind, local(MSK, MON, hh), employee=who)
        for who in ("ann", "bob")
        for kind, hh in (("check_in", 12), ("check_out", 21))
    ]
    ts = sheet(events, employees=[ANN, bob], schedules=schedules)
    ann, bob_row = ts.row("ann", MON), ts.row("bob", MON)
    assert ann is not None and bob_row is not None
    assert ann.scheduled_start == local(MSK, MON, 12)
    assert (ann.late_minutes, ann.early_leave_minutes) == (0, 0)
    assert bob_row.late_minutes == 3 * 60  # 12:00 against 09:00
    assert bob_row.worked_minutes == ann.worked_minutes == 9 * 60


def test_events_of_unlisted_employees_are_ignored_and_rows_cover_every_day() -> None:
    events = [ev("check_in", local(MSK, MON, 9), employee="zed")]
    ts = sheet(events, start=MON, end=SUN)
    assert [r.day for r in ts.rows] == [MON + timedelta(days=i) for i in range(7)]
    assert {r.employee_id for r in ts.rows} == {"ann"}
    assert not any(r.present for r in ts.rows)


def test_totals_add_up_over_a_week() -> None:
    events = [
        # Mon: 09:10-18:00 -> late 10, worked 530
        ev("check_in", local(MSK, MON, 9, 10)),
        ev("check_out", local(MSK, MON, 18)),
        # Tue: 09:00-17:30 -> early 30, worked 510
        ev("check_in", local(MSK, TUE, 9)),
        ev("check_out", local(MSK, TUE, 17, 30)),
        # Wed: nothing -> absent
        # Thu: in only -> missing out
        ev("check_in", local(MSK, MON + timedelta(days=3), 9)),
        # Fri: 08:55-18:05 -> worked 550, on time
        ev("check_in", local(MSK, MON + timedelta(days=4), 8, 55)),
        ev("check_out", local(MSK, MON + timedelta(days=4), 18, 5)),
        # Sat (off): 10:00-12:00 -> worked 120
        ev("check_in", local(MSK, SAT, 10)),
        ev("check_out", local(MSK, SAT, 12)),
    ]
    ts = sheet(events, start=MON, end=SUN)
    t = ts.totals_for("ann")
    assert t is not None
    assert t.worked_minutes == 530 + 510 + 550 + 120
    assert t.late_minutes == 10
    assert t.early_leave_minutes == 30
    assert t.days_present == 5  # Mon, Tue, Thu, Fri, Sat
    assert t.days_absent == 1
    assert (t.days_late, t.days_early_leave, t.days_missing_out, t.days_corrected) == (1, 1, 1, 0)


def test_inputs_are_validated() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeEvent("x", "ann", "check_in", datetime(2024, 6, 3, 9))
    with pytest.raises(ValueError, match="reason"):
        VoidEvent("c", "x", "  ")
    with pytest.raises(ValueError, match="check_in or check_out"):
        AddPunch("c", "ann", "pass", LATER, "r")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="7 weekdays"):
        Schedule((None,) * 6)
    with pytest.raises(ValueError, match="before"):
        sheet([], start=TUE, end=MON)
    with pytest.raises(ValueError, match="at most"):
        sheet([], start=MON, end=MON + timedelta(days=MAX_DAYS))
    with pytest.raises(ValueError, match="timezone-aware"):
        sheet([], now=datetime(2024, 6, 3))
    assert len(sheet([], start=MON, end=MON + timedelta(days=MAX_DAYS - 1)).rows) == MAX_DAYS


def test_duplicate_event_ids_count_once() -> None:
    dup = ev("check_in", local(MSK, MON, 9), eid="same")
    ts = sheet([dup, dup, ev("check_out", local(MSK, MON, 18))])
    assert one_row(ts.rows).worked_minutes == 9 * 60


def test_now_in_another_zone_is_the_same_instant() -> None:
    # 20:59 UTC is 23:59 in Moscow: the window (until midnight local) is still open.
    row = one_row(sheet([], now=datetime(2024, 6, 3, 20, 59, tzinfo=UTC)).rows)
    assert row.pending and not row.absent
