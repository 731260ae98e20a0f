"""Attendance data of the office server: event listing, daily view, timesheets, HR corrections and
work schedules over the central PostgreSQL (issue 11, item 5). The rules live in
``sputnik_edge.office.timesheet``; this package reads their inputs and stores HR's changes."""

from sputnik_edge.office.attendance.corrections import erase_employee_rows
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import (
    CorrectionError,
    CorrectionRow,
    DailyRow,
    EventRow,
    EventsPage,
    ParameterError,
    ScheduleRow,
)

__all__ = [
    "AttendanceService",
    "CorrectionError",
    "CorrectionRow",
    "DailyRow",
    "EventRow",
    "EventsPage",
    "ParameterError",
    "ScheduleRow",
    "erase_employee_rows",
]
