"""Fewer punches for the timesheet core, with exactly the same timesheet.

The core calls ``assign_day`` once per punch (a few shift windows in the office zone each), which
costs tens of microseconds: at a million events a month that is most of a minute. Yet a row only
uses its earliest counted check-in and its latest counted check-out; every other counted punch of
that row changes no figure. Punches outside a shift window are all listed, and voided ones mark the
row, so those are always kept.

Which row a punch lands on is the core's decision, so this module never decides it. It finds the
instants where that decision *can* change and asks ``assign_day`` once per stretch between them:

- the candidate windows change where a window opens or closes;
- the calendar day (which picks the candidate days, and the day of a punch outside every window)
  changes at local midnights (both readings of a repeated one) and at UTC offset changes;
- among overlapping windows the nearest one wins; distances are piecewise linear with kinks at a
  shift's start and end, so two can only swap order at a kink or half-way between a start and an
  end: those instants, where two windows overlap, are change points too.

Between two consecutive change points every punch of one kind gets the same answer, which the
core's own ``assign_day`` gives for the stretch's midpoint. A punch exactly on a change point is
kept as it is. ``punches`` does the bucketing in PostgreSQL (``width_bucket`` over these points);
``tests/office/attendance/test_reduce.py`` checks, over random schedules, zones and punches, that
the core builds the same timesheet from the reduced punches as from all of them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

from sputnik_edge.office.shifts import Assignment, Schedule, ShiftWindow, assign_day, shift_window

_ONE_DAY = timedelta(days=1)
_ONE_HOUR = timedelta(hours=1)


PUNCH_KIND_ORDER = ("check_in", "check_out")


@dataclass(slots=True)
class CellStats:
    """Counted punches of one employee's row, for the daily view."""

    count: int = 0
    last_at: datetime | None = None
    last_kind: str | None = None

    def note(self, at: datetime, kind: str, count: int = 1) -> None:
        self.count += count
        # On an exact tie the check-out wins: "in now" only when a check-in is strictly the last.
        if self.last_at is None or at > self.last_at or (at == self.last_at and kind == "check_out"):
            self.last_at, self.last_kind = at, kind


def _offset_changes(tz: tzinfo, since: datetime, until: datetime) -> list[datetime]:
    """First instants of a new UTC offset in [since, until], to the microsecond (a zone changes its
    offset at most once an hour, so an hourly scan and a bisection find every change)."""
    changes: list[datetime] = []
    t = since
    offset = t.astimezone(tz).utcoffset()
    while t < until:
        nxt = min(t + _ONE_HOUR, until)
        nxt_offset = nxt.astimezone(tz).utcoffset()
        if nxt_offset != offset:
            lo, hi = t, nxt  # offset(lo) == offset, offset(hi) != offset
            while hi - lo > timedelta(microseconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == offset:
                    lo = mid
                else:
                    hi = mid
            changes.append(hi)
            offset = nxt_offset
        t = nxt
    return changes


def _days(since: datetime, until: datetime, tz: tzinfo) -> list[date]:
    # Windows reach at most 2 days past their start and 4 hours before it, so 3 days of margin
    # on each side covers every window that can contain an instant of the span.
    first = since.astimezone(tz).date() - 3 * _ONE_DAY
    last = until.astimezone(tz).date() + 3 * _ONE_DAY
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _overlap_points(a: ShiftWindow, b: ShiftWindow) -> set[datetime]:
    lo, hi = max(a.opens, b.opens), min(a.closes, b.closes)
    if lo >= hi:
        return set()
    ends_a, ends_b = (a.start, a.end), (b.start, b.end)
    found = {x for x in (*ends_a, *ends_b) if lo < x < hi}
    found |= {x + (y - x) / 2 for x in ends_a for y in ends_b if lo < x + (y - x) / 2 < hi}
    return found


@lru_cache(maxsize=16)
def _calendar_points(tz: tzinfo, since: datetime, until: datetime) -> frozenset[datetime]:
    """Where the local calendar day can change: local midnights (both readings of a repeated one)
    and UTC offset changes (a clock set back across midnight goes back a day)."""
    points = {
        datetime.combine(d, time(0, fold=fold), tzinfo=tz).astimezone(UTC)
        for d in _days(since, until, tz)
        for fold in (0, 1)
    }
    points.update(_offset_changes(tz, since - 3 * _ONE_DAY, until + 3 * _ONE_DAY))
    return frozenset(points)


def change_points(schedule: Schedule | None, tz: tzinfo, since: datetime, until: datetime) -> list[datetime]:
    """Sorted UTC instants, ``since`` and ``until`` included, between which ``assign_day`` gives
    one answer per punch kind (see the module rules)."""
    since, until = since.astimezone(UTC), until.astimezone(UTC)
    days = _days(since, until, tz)
    points = {since, until, *_calendar_points(tz, since, until)}
    if schedule is not None:
        windows = [shift_window(d, shift, tz) for d in days if (shift := schedule.shift_on(d)) is not None]
        for i, a in enumerate(windows):
            points.update((a.opens, a.closes))
            for b in windows[i + 1 : i + 4]:  # windows 4 or more days apart never overlap
                points.update(_overlap_points(a, b))
    return sorted(p for p in points if since <= p <= until)


class Stretches:
    """One schedule's change points and the core's answer for each stretch between them.

    ``answers[kind][i]`` is the assignment of every ``kind`` punch strictly between
    ``points[i - 1]`` and ``points[i]`` (None for index 0 and for stretches too narrow to hold an
    instant); an index is what ``bisect_left(points, at)`` and PostgreSQL's
    ``width_bucket(at, points)`` give for an instant that is not itself a change point."""

    def __init__(self, schedule: Schedule | None, tz: tzinfo, since: datetime, until: datetime) -> None:
        self.points = change_points(schedule, tz, since, until)
        self.answers: dict[str, list[Assignment | None]] = {}
        for kind in PUNCH_KIND_ORDER:
            answers: list[Assignment | None] = [None]  # index 0: before the span
            for lo, hi in zip(self.points, self.points[1:], strict=False):
                mid = lo + (hi - lo) / 2
                # A stretch a microsecond wide holds no instant strictly inside it.
                answers.append(assign_day(mid, kind, schedule, tz) if lo < mid < hi else None)
            self.answers[kind] = answers

    def answer(self, at: datetime, kind: str) -> Assignment | None:
        """The stretch's assignment, or None when ``at`` is a change point or outside the span."""
        i = bisect_left(self.points, at)
        if i == 0 or i == len(self.points) or self.points[i] == at:
            return None
        return self.answers[kind][i]

    def counted(self, kind: str) -> list[bool]:
        """Per stretch index 1..n-1: whether its punches count (the ones that may be reduced)."""
        return [a is not None and a.counted for a in self.answers[kind][1:]]


@dataclass(frozen=True, slots=True)
class StretchPlan:
    """The stretches of every distinct schedule in play and which one each employee follows."""

    stretches: tuple[Stretches, ...]
    sid_of: Mapping[str, int]
    schedule_of: Mapping[str, Schedule | None]
    tz: tzinfo

    @classmethod
    def build(
        cls, schedule_of: Mapping[str, Schedule | None], tz: tzinfo, since: datetime, until: datetime
    ) -> StretchPlan:
        # Keyed by the week alone: assign_day reads nothing else of a schedule, and departments
        # often share the same hours.
        ids: dict[object, int] = {}
        stretches: list[Stretches] = []
        sid_of: dict[str, int] = {}
        for employee_id, schedule in schedule_of.items():
            key = None if schedule is None else schedule.week
            sid = ids.get(key)
            if sid is None:
                sid = ids[key] = len(stretches)
                stretches.append(Stretches(schedule, tz, since, until))
            sid_of[employee_id] = sid
        return cls(tuple(stretches), sid_of, dict(schedule_of), tz)

    def answer(self, employee_id: str, at: datetime, kind: str) -> Assignment | None:
        return self.stretches[self.sid_of[employee_id]].answer(at, kind)

    def assign(self, employee_id: str, at: datetime, kind: str) -> Assignment:
        """The core's own answer for one punch (for the few the stretches leave open)."""
        return assign_day(at, kind, self.schedule_of.get(employee_id), self.tz)
