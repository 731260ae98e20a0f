"""The stretch reduction changes no timesheet: the core builds the same sheet from the reduced
punches as from all of them, over random schedules (day, night, 24 h, overlapping and nested
shifts), zones with DST changes (one at midnight, one by 30 minutes) and punches, some exactly on
change points, some voided. The reduction here mirrors the SQL in ``punches``: one punch per
(employee, kind, stretch) of a counted stretch, everything else kept."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sputnik_edge.office.attendance.reduce import Stretches, StretchPlan, change_points
from sputnik_edge.office.timesheet import (
    Employee,
    Schedule,
    Schedules,
    Shift,
    TimeEvent,
    VoidEvent,
    build_timesheet,
    event_span,
    shift_window,
)

BERLIN = ZoneInfo("Europe/Berlin")


class ClockBackAcrossMidnight(tzinfo):
    """A made-up zone whose clock goes back from 00:30 to 23:30 (UTC+1 to UTC+0) on the night to
    2024-06-05: the local date goes 4 -> 5 -> 4 -> 5 June and midnight happens twice. No real zone
    does this today; the reduction must not assume it cannot happen."""

    _CHANGE = datetime(2024, 6, 4, 23, 30)  # UTC, naive
    _REPEAT = (datetime(2024, 6, 4, 23, 30), datetime(2024, 6, 5, 0, 30))  # local wall times seen twice

    def utcoffset(self, dt: datetime | None) -> timedelta:
        assert dt is not None
        wall = dt.replace(tzinfo=None, fold=0)
        if wall < self._REPEAT[0]:
            return timedelta(hours=1)
        if wall >= self._REPEAT[1]:
            return timedelta(0)
        return timedelta(0) if dt.fold else timedelta(hours=1)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "BACK"

    def fromutc(self, dt: datetime) -> datetime:
        naive = dt.replace(tzinfo=None)
        if naive < self._CHANGE:
            return (naive + timedelta(hours=1)).replace(tzinfo=self)
        fold = int(self._REPEAT[0] <= naive < self._REPEAT[1])
        return naive.replace(tzinfo=self, fold=fold)


BACK = ClockBackAcrossMidnight()
# (zone, a day with a change): spring forward, fall back, a 30-minute change, a gap at midnight,
# and a fall-back at midnight (the local date goes back a day for an hour).
ZONES_AND_DAYS = [
    (ZoneInfo("UTC"), date(2024, 6, 3)),
    (ZoneInfo("Europe/Moscow"), date(2024, 6, 3)),
    (BERLIN, date(2024, 3, 31)),
    (BERLIN, date(2024, 10, 27)),
    (ZoneInfo("America/New_York"), date(2024, 11, 3)),
    (ZoneInfo("Australia/Lord_Howe"), date(2024, 4, 7)),
    (ZoneInfo("America/Sao_Paulo"), date(2018, 11, 4)),
    (ZoneInfo("America/Sao_Paulo"), date(2018, 2, 18)),
    (ZoneInfo("Asia/Kathmandu"), date(2024, 1, 10)),
    (BACK, date(2024, 6, 4)),
    (BACK, date(2024, 6, 5)),
]
NOW = datetime(2030, 1, 1, tzinfo=UTC)

clock = st.builds(time, st.integers(0, 23), st.sampled_from([0, 0, 15, 30, 45, 59]))
shift = st.builds(Shift, clock, clock)
night = st.builds(
    Shift,
    st.builds(time, st.integers(19, 23), st.sampled_from([0, 30])),
    st.builds(time, st.integers(3, 8), st.sampled_from([0, 30])),
)
early = st.builds(
    Shift,
    st.builds(time, st.integers(5, 11), st.sampled_from([0, 30])),
    st.builds(time, st.integers(12, 20), st.sampled_from([0, 30])),
)
# Nights followed by early days make windows overlap, where the nearer shift decides.
schedule = (
    st.builds(Schedule, st.tuples(*[st.none() | shift] * 7), st.integers(0, 30))
    | st.builds(Schedule, st.tuples(*[st.none() | night | early] * 7), st.integers(0, 30))
    | st.none()
)


def reduce_like_sql(events: Sequence[TimeEvent], plan: StretchPlan, voided: set[str]) -> list[TimeEvent]:
    kept: list[TimeEvent] = []
    best: dict[tuple[str, str, int], TimeEvent] = {}
    for ev in events:
        assert ev.employee_id is not None
        stretches: Stretches = plan.stretches[plan.sid_of[ev.employee_id]]
        answer = stretches.answer(ev.captured_at, ev.kind)
        if ev.event_id in voided or answer is None or not answer.counted:
            kept.append(ev)
            continue
        key = (ev.employee_id, ev.kind, bisect_left(stretches.points, ev.captured_at))
        old = best.get(key)
        if old is None or (
            ev.captured_at < old.captured_at if ev.kind == "check_in" else ev.captured_at > old.captured_at
        ):
            best[key] = ev
    return [*kept, *best.values()]


@st.composite
def cases(draw: st.DrawFn) -> tuple[object, ...]:
    tz, day = draw(st.sampled_from(ZONES_AND_DAYS))
    start = day - timedelta(days=draw(st.integers(0, 2)))
    end = start + timedelta(days=draw(st.integers(0, 3)))
    own, department = draw(schedule), draw(schedule)
    schedules = Schedules(
        by_department={} if department is None else {"it": department},
        by_employee={} if own is None else {"ann": own},
    )
    people = [Employee("ann", "Ann", "it"), Employee("bob", "Bob", "it")]
    since, until = event_span(start, end, tz)
    # Punches cluster around the instants where days and windows begin and end, found here
    # without change_points (a point it missed would otherwise never be drawn near).
    days = [start + timedelta(days=i) for i in range(-2, (end - start).days + 3)]
    marks = [datetime.combine(d, time(0, fold=f), tzinfo=tz).astimezone(UTC) for d in days for f in (0, 1)]
    for sched in (own, department):
        for d in days:
            found = sched.shift_on(d) if sched is not None else None
            if found is not None:
                w = shift_window(d, found, tz)
                marks += [w.start, w.end, w.opens, w.closes]
    seconds = int((until - since).total_seconds())
    instants = st.builds(lambda s: since + timedelta(seconds=s), st.integers(0, seconds - 1))
    on_marks = st.sampled_from(marks)
    near_marks = st.builds(lambda p, d: p + timedelta(seconds=d), on_marks, st.integers(-2700, 2700))
    on_points = st.sampled_from(change_points(own, tz, since, until))
    raw = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["ann", "bob"]),
                st.sampled_from(["check_in", "check_out"]),
                instants | on_marks | near_marks | on_points,
            ),
            min_size=10,
            max_size=120,
        )
    )
    events = [
        TimeEvent(f"ev-{i}", who, kind, at) for i, (who, kind, at) in enumerate(raw) if since <= at < until
    ]
    voided = {e.event_id for e in events if draw(st.integers(0, 9)) == 0}
    return tz, start, end, schedules, people, since, until, events, voided


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_reduced_punches_build_the_same_timesheet(case: tuple[object, ...]) -> None:
    tz, start, end, schedules, people, since, until, events, voided = case
    assert isinstance(schedules, Schedules) and isinstance(events, list) and isinstance(voided, set)
    assert isinstance(start, date) and isinstance(end, date)
    assert isinstance(since, datetime) and isinstance(until, datetime) and isinstance(people, list)
    assert isinstance(tz, tzinfo)
    schedule_of = {p.employee_id: schedules.for_employee(p.employee_id, p.department) for p in people}
    plan = StretchPlan.build(schedule_of, tz, since, until)
    voids = [VoidEvent(f"void-{eid}", eid, "wrong person") for eid in sorted(voided)]
    reduced = reduce_like_sql(events, plan, voided)
    full = build_timesheet(people, schedules, events, voids, start, end, tz, NOW)
    assert build_timesheet(people, schedules, reduced, voids, start, end, tz, NOW) == full


def test_a_month_of_office_punches_shrinks_to_two_per_row() -> None:
    # 09:00-18:00 on weekdays in Berlin across the spring change; a punch every 10 minutes from
    # 07:00 to 20:00 on each of 30 days: all inside the shift window [05:00, 24:00), so each day
    # keeps its earliest check-in and latest check-out and nothing else.
    tz = BERLIN
    start, end = date(2024, 3, 4), date(2024, 4, 2)
    office = Schedule.weekly(time(9), time(18), grace_minutes=5)
    since, until = event_span(start, end, tz)
    events = []
    for d in range(30):
        day = start + timedelta(days=d)
        for step in range(13 * 6 + 1):
            at = datetime.combine(day, time(7), tzinfo=tz) + timedelta(minutes=10 * step)
            events.append(TimeEvent(f"{d}-{step}", "ann", "check_in" if step % 2 else "check_out", at))
    plan = StretchPlan.build({"ann": office}, tz, since, until)
    reduced = reduce_like_sql(events, plan, set())
    assert len(events) == 30 * 79
    assert len(reduced) == 30 * 2
    people = [Employee("ann", "Ann", "it")]
    schedules = Schedules(by_employee={"ann": office})
    full = build_timesheet(people, schedules, events, [], start, end, tz, NOW)
    assert build_timesheet(people, schedules, reduced, [], start, end, tz, NOW) == full
    # 07:10 is the first check-in, 20:00 (step 78, even) the last check-out: 12 h 50 min.
    assert full.row("ann", date(2024, 3, 5)) is not None
    assert full.row("ann", date(2024, 3, 5)).worked_minutes == 12 * 60 + 50  # type: ignore[union-attr]


def test_the_made_up_zone_goes_back_a_day_and_midnight_happens_twice() -> None:
    dates = [
        (datetime(2024, 6, 4, 22, 59, tzinfo=UTC) + timedelta(minutes=m)).astimezone(BACK).date().day
        for m in (0, 1, 31, 61)  # 22:59, 23:00, 23:30, 00:00 UTC
    ]
    assert dates == [4, 5, 4, 5]
    points = change_points(None, BACK, datetime(2024, 6, 4, tzinfo=UTC), datetime(2024, 6, 6, tzinfo=UTC))
    for hh, mm in ((23, 0), (23, 30)):
        assert datetime(2024, 6, 4, hh, mm, tzinfo=UTC) in points
    assert datetime(2024, 6, 5, tzinfo=UTC) in points


def test_change_points_of_a_night_shift_include_window_edges_midnights_and_the_dst_change() -> None:
    tz = BERLIN
    nights = Schedule((Shift(time(22), time(6)),) * 7)
    since = datetime(2024, 3, 30, 12, tzinfo=UTC)
    until = datetime(2024, 4, 1, 12, tzinfo=UTC)
    points = change_points(nights, tz, since, until)
    assert points == sorted(set(points)) and points[0] == since and points[-1] == until
    # The spring change: 02:00 CET -> 03:00 CEST is 01:00 UTC on March 31.
    assert datetime(2024, 3, 31, 1, tzinfo=UTC) in points
    # Local midnights: 23:00 UTC before the change, 22:00 UTC after it.
    assert datetime(2024, 3, 30, 23, tzinfo=UTC) in points
    assert datetime(2024, 3, 31, 22, tzinfo=UTC) in points
    # Saturday 22:00 CET (21:00 UTC) to Sunday 06:00 CEST (04:00 UTC): the window opens 4 h before
    # the start, 17:00 UTC, and closes 6 h after the end, Sunday 10:00 UTC; Sunday 22:00 CEST
    # (20:00 UTC) opens at 16:00 UTC. Friday's window closed at 11:00 UTC Saturday, before since.
    assert datetime(2024, 3, 30, 17, tzinfo=UTC) in points
    assert datetime(2024, 3, 31, 10, tzinfo=UTC) in points
    assert datetime(2024, 3, 31, 16, tzinfo=UTC) in points
    assert datetime(2024, 3, 30, 11, tzinfo=UTC) not in points
    # Consecutive nights do not overlap (10:00 < 16:00), so shift starts and ends are no change
    # points of their own: Saturday's start, 21:00 UTC, is not one.
    assert datetime(2024, 3, 30, 21, tzinfo=UTC) not in points


def test_overlapping_windows_change_where_the_nearer_shift_changes() -> None:
    # UTC, Monday 22:00-06:00 then Tuesday 08:00-17:00: Monday's window [Mon 18:00, Tue 12:00) and
    # Tuesday's [Tue 04:00, Tue 23:00) overlap from 04:00 to 12:00 on Tuesday. Inside it the
    # nearer shift wins: the answer can change at Monday's end (06:00), Tuesday's start (08:00)
    # and half-way between them (07:00), where the core's tie rule picks by kind.
    utc = ZoneInfo("UTC")
    week = Schedule((Shift(time(22), time(6)), Shift(time(8), time(17)), None, None, None, None, None))
    since, until = datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 5, tzinfo=UTC)
    points = change_points(week, utc, since, until)
    tue = date(2024, 6, 4)
    for hh in (4, 6, 7, 8, 12):
        assert datetime.combine(tue, time(hh), tzinfo=UTC) in points, hh
    stretches = Stretches(week, utc, since, until)
    before, after = datetime(2024, 6, 4, 6, 59, tzinfo=UTC), datetime(2024, 6, 4, 7, 1, tzinfo=UTC)
    assert stretches.answer(before, "check_in") == stretches.answer(before, "check_out")
    assert stretches.answer(before, "check_in") is not None
    assert stretches.answer(before, "check_in").day == date(2024, 6, 3)  # type: ignore[union-attr]
    assert stretches.answer(after, "check_out").day == tue  # type: ignore[union-attr]
    # 07:00 itself is a change point: the stretches leave it to the core.
    assert stretches.answer(datetime(2024, 6, 4, 7, tzinfo=UTC), "check_in") is None
