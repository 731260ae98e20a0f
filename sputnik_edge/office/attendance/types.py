"""What the attendance service returns, and the errors it raises for bad input.

Every datetime returned is timezone-aware and expressed in the office time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

CorrectionAction = Literal["add", "void"]
ScheduleScope = Literal["department", "employee"]
ShiftTimes = tuple[str, str]  # ("HH:MM", "HH:MM"), local wall clock; end <= start crosses midnight


class ParameterError(ValueError):
    """A request parameter is invalid; ``field`` names it (as the HTTP API spells it), and the
    message starts with it, so a caller can show either."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class CorrectionError(ParameterError):
    """A correction was refused; ``field`` names the offending part of the request."""


@dataclass(frozen=True, slots=True)
class EventRow:
    event_id: str
    device_id: str
    camera_id: str | None
    employee_id: str | None
    full_name: str | None  # None when the employee is unknown to the central database
    department: str | None
    kind: str
    similarity: float | None
    captured_at: datetime
    received_at: datetime
    voided: bool = False
    correction_id: str | None = None  # the void correction, when there is one


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[EventRow]
    next_cursor: str | None  # None on the last page


@dataclass(frozen=True, slots=True)
class DailyRow:
    """One active employee on one day, by the timesheet rules (corrections applied).

    ``events`` counts the check-ins and check-outs that count on that day's row (voided ones
    excluded, added ones included, ones outside the shift window excluded); ``in_now`` is whether
    the latest of them is a check-in."""

    employee_id: str
    full_name: str
    department: str | None
    day: date
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    first_in: datetime | None
    last_out: datetime | None
    events: int
    worked_minutes: int
    present: bool
    late: bool
    late_minutes: int
    early_leave_minutes: int
    absent: bool
    missing_out: bool
    in_now: bool
    pending: bool
    corrected: bool


@dataclass(frozen=True, slots=True)
class CorrectionRow:
    correction_id: str
    action: CorrectionAction
    event_id: str | None  # the voided event (or voided added punch)
    employee_id: str | None  # whose row it changes (for a void: the event's employee when voided)
    punch_kind: str | None
    at: datetime | None  # the added punch's instant
    reason: str
    created_by: str
    created_at: datetime
    applies_at: datetime | None  # the instant it affects: ``at``, or the voided event's time


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    scope: ScheduleScope
    scope_key: str
    week: tuple[ShiftTimes | None, ...]  # 7 entries, Monday first; None is a day off
    grace_minutes: int
    updated_at: datetime
