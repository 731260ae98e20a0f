"""Shift days across midnight and DST changes, and the fetch span that feeds them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from sputnik_edge.office.shifts import (
    SHIFT_WINDOW_AFTER,
    SHIFT_WINDOW_BEFORE,
    Schedule,
    Schedules,
    Shift,
    assign_day,
    event_span,
    shift_window,
)
from tests.unit.office.builders import BERLIN, MSK, ev, local, sheet

SPRING_SAT = date(2024, 3, 30)  # Berlin: Sunday 31 March 02:00 CET -> 03:00 CEST
AUTUMN_SAT = date(2024, 10, 26)  # Berlin: Sunday 27 October 03:00 CEST -> 02:00 CET
NIGHTS = Schedule.weekly(time(22), time(6), range(7))


def test_spring_night_shift_is_an_hour_shorter_in_real_minutes() -> None:
    sun = SPRING_SAT + timedelta(days=1)
    events = [ev("check_in", local(BERLIN, SPRING_SAT, 22)), ev("check_out", local(BERLIN, sun, 6))]
    ts = sheet(events, NIGHTS, start=SPRING_SAT, tz=BERLIN)
    row = ts.rows[0]
    # 22:00 CET is 21:00 UTC, 06:00 CEST is 04:00 UTC: 7 real hours, not the 8 the clock suggests.
    assert row.worked_minutes == 7 * 60
    assert row.scheduled_end == local(BERLIN, sun, 6)
    assert row.scheduled_end is not None and row.scheduled_end.utcoffset() == timedelta(hours=2)
    assert (row.late_minutes, row.early_leave_minutes) == (0, 0)


def test_autumn_night_shift_is_an_hour_longer_and_the_repeated_hour_is_told_apart() -> None:
    sun = AUTUMN_SAT + timedelta(days=1)
    events = [ev("check_in", local(BERLIN, AUTUMN_SAT, 22)), ev("check_out", local(BERLIN, sun, 6))]
    row = sheet(events, NIGHTS, start=AUTUMN_SAT, tz=BERLIN).rows[0]
    # 22:00 CEST is 20:00 UTC, 06:00 CET is 05:00 UTC: 9 real hours.
    assert row.worked_minutes == 9 * 60

    # Leaving at the second 02:30 (CET, 01:30 UTC): 5 h 30 worked, 3 h 30 before the 06:00 CET end.
    second = local(BERLIN, sun, 2, 30, fold=1)
    row = sheet([events[0], ev("check_out", second)], NIGHTS, start=AUTUMN_SAT, tz=BERLIN).rows[0]
    assert row.worked_minutes == 5 * 60 + 30
    assert row.early_leave_minutes == 3 * 60 + 30
    # The first 02:30 (CEST, 00:30 UTC) is an hour earlier.
    first = local(BERLIN, sun, 2, 30, fold=0)
    row = sheet([events[0], ev("check_out", first)], NIGHTS, start=AUTUMN_SAT, tz=BERLIN).rows[0]
    assert row.worked_minutes == 4 * 60 + 30
    assert row.early_leave_minutes == 4 * 60 + 30


def test_day_shift_on_the_spring_change_day_counts_the_lost_hour() -> None:
    sun = SPRING_SAT + timedelta(days=1)
    early = Schedule.weekly(time(1), time(5), range(7))
    events = [ev("check_in", local(BERLIN, sun, 1)), ev("check_out", local(BERLIN, sun, 5))]
    row = sheet(events, early, start=sun, tz=BERLIN).rows[0]
    # 01:00 CET = 00:00 UTC, 05:00 CEST = 03:00 UTC.
    assert row.worked_minutes == 3 * 60
    assert row.early_leave_minutes == 0


def test_shift_window_edges_in_utc() -> None:
    mon = date(2024, 6, 3)
    w = shift_window(mon, Shift(time(22), time(6)), MSK)
    assert w.start == datetime(2024, 6, 3, 19, tzinfo=UTC)  # 22:00 MSK
    assert w.end == datetime(2024, 6, 4, 3, tzinfo=UTC)  # 06:00 MSK next day
    assert w.opens == w.start - SHIFT_WINDOW_BEFORE
    assert w.closes == w.end + SHIFT_WINDOW_AFTER


def test_assignment_of_a_night_shift_morning_and_an_afternoon_gap() -> None:
    mon, tue = date(2024, 6, 3), date(2024, 6, 4)
    morning = local(MSK, tue, 6, 5)
    assert assign_day(morning, "check_out", NIGHTS, MSK).day == mon
    # 14:00 Tuesday is after Monday's window (until 12:00) and before Tuesday's (from 18:00).
    gap = assign_day(local(MSK, tue, 14), "check_in", NIGHTS, MSK)
    assert gap.day == tue and not gap.counted
    assert assign_day(local(MSK, tue, 18), "check_in", NIGHTS, MSK).day == tue


def test_schedules_lookup_order() -> None:
    dept, own = Schedule.weekly(time(9), time(18)), Schedule.weekly(time(10), time(19))
    s = Schedules(by_department={"it": dept}, by_employee={"ann": own})
    assert s.for_employee("ann", "it") is own
    assert s.for_employee("bob", "it") is dept
    assert s.for_employee("bob", None) is None
    assert s.for_employee("bob", "sales") is None


def test_every_event_goes_to_a_window_that_holds_it_and_lies_in_the_fetch_span() -> None:
    # Exhaustive over a grid of shifts (day, night, 24 h) and instants every 53 minutes across a
    # week with a DST change in Berlin, so every edge of the assignment rules is crossed.
    checked = 0
    for tz, first in ((MSK, date(2024, 3, 29)), (BERLIN, date(2024, 3, 29)), (BERLIN, date(2024, 10, 25))):
        last = first + timedelta(days=2)
        since, until = event_span(first, last, tz)
        origin = local(tz, first, 0).astimezone(UTC)
        for start_h in range(0, 24, 3):
            for end_h in range(1, 25, 3):
                shift = Shift(time(start_h), time(end_h % 24, 30 * (end_h % 2)))
                schedule = Schedule((shift,) * 7)
                windows = [shift_window(first + timedelta(days=d), shift, tz) for d in range(-4, 7)]
                for step in range(-2 * 27, 5 * 27):
                    at = origin + timedelta(minutes=53 * step)
                    kind = "check_in" if step % 2 else "check_out"
                    where = assign_day(at, kind, schedule, tz)
                    holding = {w.day for w in windows if w.contains(at)}
                    assert where.counted == bool(holding), (shift, at)
                    if holding:
                        assert where.day in holding, (shift, at)
                    if first <= where.day <= last:
                        assert since <= at < until, (shift, at, where)
                    checked += 1
    assert checked > 10_000


def test_off_day_after_a_night_shift_keeps_its_own_events() -> None:
    # Friday night 22:00-06:00, Saturday off: 06:05 Saturday ends Friday's shift, 14:00 Saturday
    # is presence on the day off.
    fri, sat = date(2024, 6, 7), date(2024, 6, 8)
    nights = Schedule.weekly(time(22), time(6))
    assert assign_day(local(MSK, sat, 6, 5), "check_out", nights, MSK).day == fri
    off = assign_day(local(MSK, sat, 14), "check_in", nights, MSK)
    assert off.day == sat and off.counted


def test_equal_distance_goes_by_kind() -> None:
    # Monday 22:00-06:00 then Tuesday 08:00-17:00: 07:00 Tuesday is an hour from both shifts. An
    # arrival starts the later shift, a departure ends the earlier one.
    mon, tue = date(2024, 6, 3), date(2024, 6, 4)
    week = Schedule((Shift(time(22), time(6)), Shift(time(8), time(17)), None, None, None, None, None))
    seven = local(MSK, tue, 7)
    assert assign_day(seven, "check_in", week, MSK).day == tue
    assert assign_day(seven, "check_out", week, MSK).day == mon


def test_a_long_shift_reaches_two_calendar_days_ahead() -> None:
    # Monday 20:00 to Tuesday 19:00, Tuesday off: the window closes Wednesday 01:00, so 00:30 on
    # Wednesday still ends Monday's shift.
    mon, wed = date(2024, 6, 3), date(2024, 6, 5)
    long_monday = Schedule((Shift(time(20), time(19)), None, None, None, None, None, None))
    where = assign_day(local(MSK, wed, 0, 30), "check_out", long_monday, MSK)
    assert where.day == mon and where.counted
    # At 01:00 the window has closed: Wednesday is off, so it is presence on Wednesday.
    assert assign_day(local(MSK, wed, 1), "check_out", long_monday, MSK).day == wed


@pytest.mark.parametrize("day", [date.min, date.max])
def test_event_span_at_the_ends_of_the_calendar_is_a_value_error(day: date) -> None:
    # The office's daily and timesheet answer a ValueError with 422 (found by the API fuzz: a 500).
    with pytest.raises(ValueError, match="day out of range"):
        event_span(day, day, MSK)
