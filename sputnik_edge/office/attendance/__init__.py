"""Attendance data of the office server: event listing, daily view, timesheets, HR corrections and
work schedules over the central PostgreSQL. The rules live in ``sputnik_edge.office.timesheet``;
this package reads their inputs and stores HR's changes.

Import from the modules (``service``, ``types``, ``corrections``): the package itself imports
nothing, so no import chain loops through it.
"""
