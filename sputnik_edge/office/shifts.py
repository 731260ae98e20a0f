"""Work schedules and shift-day assignment: which day an attendance event belongs to.

A schedule gives each weekday (0=Mon..6=Sun) a shift or a day off; an employee's own schedule beats
the department's. A shift whose end is <= its start crosses midnight and belongs to the day it
starts on. A scheduled day owns the window [start - SHIFT_WINDOW_BEFORE, end + SHIFT_WINDOW_AFTER):

- an event inside one window goes to that shift day; inside several (a night shift followed by an
  early day shift), to the shift whose [start, end] is nearest, a tie going to the later day for a
  check-in and to the earlier day for a check-out;
- an event in no window goes to its local calendar day: if that day has no shift it counts there
  (presence on a day off); if it has one, it is *outside the window* and does not count.

Instants are compared in UTC; the office zone only answers calendar questions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo

# Generous enough for someone arriving early or staying late; narrow enough that consecutive day
# shifts (09-18) leave a night gap and consecutive night shifts (22-06) leave an afternoon gap.
SHIFT_WINDOW_BEFORE = timedelta(hours=4)
SHIFT_WINDOW_AFTER = timedelta(hours=6)


def require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")


@dataclass(frozen=True, slots=True)
class Shift:
    """Local wall-clock start and end; end <= start means the shift ends the next day."""

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("shift times are local wall-clock times and must be naive")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True, slots=True)
class Schedule:
    """Seven entries, Monday first; None is a day off."""

    week: tuple[Shift | None, ...]
    grace_minutes: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if len(self.week) != 7:
            raise ValueError(f"a schedule needs 7 weekdays (Monday first), got {len(self.week)}")
        if self.grace_minutes < 0:
            raise ValueError(f"grace_minutes must be >= 0, got {self.grace_minutes}")

    @classmethod
    def weekly(
        cls,
        start: time,
        end: time,
        weekdays: Iterable[int] = range(5),
        *,
        grace_minutes: int = 0,
        name: str = "",
    ) -> Schedule:
        """The same shift on the given weekdays (default Monday to Friday), the rest off."""
        days = set(weekdays)
        if not days <= set(range(7)):
            raise ValueError(f"weekdays must be 0 (Monday) .. 6 (Sunday), got {sorted(days)}")
        shift = Shift(start, end)
        week = tuple(shift if wd in days else None for wd in range(7))
        return cls(week, grace_minutes, name)

    def shift_on(self, day: date) -> Shift | None:
        return self.week[day.weekday()]


@dataclass(frozen=True, slots=True)
class Schedules:
    by_department: Mapping[str, Schedule] = field(default_factory=dict)
    by_employee: Mapping[str, Schedule] = field(default_factory=dict)

    def for_employee(self, employee_id: str, department: str | None) -> Schedule | None:
        """The employee's own schedule beats the department's; neither means no schedule."""
        own = self.by_employee.get(employee_id)
        if own is not None:
            return own
        if department is None:
            return None
        return self.by_department.get(department)


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """One scheduled day's shift as UTC instants, with the window that collects its events."""

    day: date
    start: datetime
    end: datetime
    opens: datetime
    closes: datetime

    def contains(self, at: datetime) -> bool:
        return self.opens <= at < self.closes

    def distance(self, at: datetime) -> timedelta:
        if at < self.start:
            return self.start - at
        if at > self.end:
            return at - self.end
        return timedelta(0)


@dataclass(frozen=True, slots=True)
class Assignment:
    day: date
    counted: bool


def local_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """The UTC instant of a local wall-clock time. A time in a spring-forward gap resolves with the
    offset before the change (02:30 in Berlin's gap is 03:30 CEST); an autumn repeat resolves to
    its first occurrence: zoneinfo's fold=0 rules, applied consistently."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def shift_window(day: date, shift: Shift, tz: tzinfo) -> ShiftWindow:
    start = local_instant(day, shift.start, tz)
    end_day = day + timedelta(days=1) if shift.crosses_midnight else day
    end = local_instant(end_day, shift.end, tz)
    return ShiftWindow(day, start, end, start - SHIFT_WINDOW_BEFORE, end + SHIFT_WINDOW_AFTER)


def assign_day(at: datetime, kind: str, schedule: Schedule | None, tz: tzinfo) -> Assignment:
    """Which row an event belongs to, and whether it counts there (see the module rules)."""
    require_aware(at, "at")
    calendar_day = at.astimezone(tz).date()
    if schedule is None:
        return Assignment(calendar_day, True)
    # The longest shift is 24 h, so a window reaches at most 2 days past its start and 4 h before.
    candidates: list[ShiftWindow] = []
    for offset in (-2, -1, 0, 1):
        day = calendar_day + timedelta(days=offset)
        shift = schedule.shift_on(day)
        if shift is not None:
            window = shift_window(day, shift, tz)
            if window.contains(at):
                candidates.append(window)
    if candidates:
        later_first = kind == "check_in"
        best = min(
            candidates,
            key=lambda w: (w.distance(at), -w.day.toordinal() if later_first else w.day.toordinal()),
        )
        return Assignment(best.day, True)
    return Assignment(calendar_day, schedule.shift_on(calendar_day) is None)


def event_span(start_day: date, end_day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The UTC span [since, until) of events that can land on rows start_day..end_day: what the
    caller should fetch so night shifts and window edges are complete. Days at the ends of the
    calendar (year 1 or 9999) have no such span: ValueError, which the routes answer with 422."""
    try:
        since = local_instant(start_day, time(0), tz) - SHIFT_WINDOW_BEFORE
        until = local_instant(end_day + timedelta(days=2), time(0), tz) + SHIFT_WINDOW_AFTER
    except OverflowError:
        raise ValueError(f"day out of range: {start_day.isoformat()}..{end_day.isoformat()}") from None
    return since, until
