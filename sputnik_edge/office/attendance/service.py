"""The attendance data layer of the office server: events, daily view, timesheets, corrections and
schedules over the central PostgreSQL, with the timesheet rules left to ``office.timesheet``.

Reads run in one REPEATABLE READ, read-only transaction each, so a timesheet never mixes a
correction with the events from before it. Database failures surface as ``CentralError`` (one
line, no password), bad input as ``ParameterError`` / ``CorrectionError`` naming the parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from sputnik_edge.central.errors import CentralError, SchemaError, describe_db_error
from sputnik_edge.central.schema import DEFAULT_OFFICE_TIMEZONE, settings
from sputnik_edge.office.attendance import checks, corrections, schedules
from sputnik_edge.office.attendance.events import MAX_PAGE, EventFilters, list_events
from sputnik_edge.office.attendance.inputs import Scope, SheetInputs, load_inputs
from sputnik_edge.office.attendance.types import (
    CorrectionRow,
    DailyRow,
    EventsPage,
    ParameterError,
    ScheduleRow,
)
from sputnik_edge.office.timesheet import MAX_DAYS, Schedules, Timesheet, build_timesheet

log = structlog.get_logger(__name__)

_UNDEFINED_TABLE = "42P01"


class AttendanceService:
    """``timezone`` None reads ``settings.office_timezone`` on every call, so a change made by an
    admin applies at once."""

    def __init__(self, engine: Engine, *, timezone: str | None = None) -> None:
        self._engine = engine
        self._zone = None if timezone is None else checks.zone(timezone)

    # -- plumbing ---------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self, action: str, *, readonly: bool) -> Iterator[Connection]:
        try:
            with self._engine.connect() as conn:
                if readonly:
                    conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
                with conn.begin():
                    # Instants come back as UTC, so comparisons skip the per-row offset arithmetic.
                    conn.execute(text("SET LOCAL TIME ZONE 'UTC'"))
                    yield conn
        except DBAPIError as exc:
            if getattr(exc.orig, "pgcode", None) == _UNDEFINED_TABLE:
                raise SchemaError(
                    f"{action} failed: the Sputnik schema is missing ({describe_db_error(exc)}); "
                    "run `sputnik-office db upgrade`"
                ) from None
            raise CentralError(f"{action} failed: {describe_db_error(exc)}") from None
        except SQLAlchemyError as exc:
            raise CentralError(f"{action} failed: {describe_db_error(exc)}") from None

    def _tz(self, conn: Connection) -> ZoneInfo:
        if self._zone is not None:
            return self._zone
        stored = conn.execute(select(settings.c.value).where(settings.c.key == "office_timezone")).scalar()
        try:
            return checks.zone(stored or DEFAULT_OFFICE_TIMEZONE, "office_timezone")
        except ParameterError as exc:
            # The server's own setting, not the caller's input: a configuration error.
            raise CentralError(f"settings.office_timezone: {exc.problem}") from None

    def timezone(self) -> ZoneInfo:
        """The zone days are counted in (the configured one, or the database setting)."""
        with self._transaction("reading settings", readonly=True) as conn:
            return self._tz(conn)

    # -- events -----------------------------------------------------------------------------------

    def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        employee_id: str | None = None,
        department: str | None = None,
        device_id: str | None = None,
        kind: str | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> EventsPage:
        """Events newest first (``since`` inclusive, ``until`` exclusive), ``limit`` (1..1000) per
        page; ``department`` is the employee's current one. Pass ``next_cursor`` back with the
        same filters for the next page; a cursor from other filters is refused."""
        filters = EventFilters.checked(
            since=since,
            until=until,
            employee_id=employee_id,
            department=department,
            device_id=device_id,
            kind=kind,
        )
        size = checks.integer(limit, "limit", 1, MAX_PAGE)
        with self._transaction("listing events", readonly=True) as conn:
            return list_events(conn, filters, cursor, size, self._tz(conn))

    # -- timesheets -------------------------------------------------------------------------------

    def _inputs(
        self, start: date, end: date, scope: Scope, *, with_stats: bool
    ) -> tuple[SheetInputs, ZoneInfo]:
        with self._transaction("reading attendance", readonly=True) as conn:
            tz = self._tz(conn)
            return load_inputs(conn, start, end, tz, scope, with_stats=with_stats), tz

    def timesheet(
        self,
        start: date,
        end: date,
        *,
        department: str | None = None,
        employee_id: str | None = None,
        now: datetime | None = None,
    ) -> Timesheet:
        """Rows for every employee in scope and day in [start, end]: active employees, plus inactive
        ones with punches in the range. Parameter names in errors are the API's: ``from``, ``to``."""
        first, last = checks.day(start, "from"), checks.day(end, "to")
        if last < first:
            raise ParameterError("to", f"{last} is before from {first}")
        if (last - first).days + 1 > MAX_DAYS:
            asked = (last - first).days + 1
            raise ParameterError("to", f"a timesheet covers at most {MAX_DAYS} days, asked for {asked}")
        moment = datetime.now(UTC) if now is None else checks.aware(now, "now")
        scope = Scope(
            checks.optional_text(department, "department"), checks.optional_text(employee_id, "employee_id")
        )
        inputs, tz = self._inputs(first, last, scope, with_stats=False)
        sheet = build_timesheet(
            inputs.employees, inputs.schedules, inputs.events, inputs.corrections, first, last, tz, moment
        )
        return _without_idle_inactive(sheet, inputs.inactive)

    def daily(
        self, day: date, *, department: str | None = None, now: datetime | None = None
    ) -> list[DailyRow]:
        """One row per active employee for ``day``, by the timesheet rules (shift days: a night
        shift's morning check-out belongs to the day it started)."""
        the_day = checks.day(day, "day")
        moment = datetime.now(UTC) if now is None else checks.aware(now, "now")
        scope = Scope(checks.optional_text(department, "department"), active_only=True)
        inputs, tz = self._inputs(the_day, the_day, scope, with_stats=True)
        sheet = build_timesheet(
            inputs.employees,
            inputs.schedules,
            inputs.events,
            inputs.corrections,
            the_day,
            the_day,
            tz,
            moment,
        )
        rows = []
        for r in sheet.rows:
            stats = inputs.stats.get((r.employee_id, r.day))
            rows.append(
                DailyRow(
                    employee_id=r.employee_id,
                    full_name=r.full_name,
                    department=r.department,
                    day=r.day,
                    scheduled_start=r.scheduled_start,
                    scheduled_end=r.scheduled_end,
                    first_in=r.first_in,
                    last_out=r.last_out,
                    events=0 if stats is None else stats.count,
                    worked_minutes=r.worked_minutes,
                    present=r.present,
                    late=r.late_minutes > 0,
                    late_minutes=r.late_minutes,
                    early_leave_minutes=r.early_leave_minutes,
                    absent=r.absent,
                    missing_out=r.missing_out,
                    in_now=stats is not None and stats.last_kind == "check_in",
                    pending=r.pending,
                    corrected=r.corrected,
                )
            )
        return rows

    # -- corrections ------------------------------------------------------------------------------

    def add_correction(
        self,
        *,
        actor: str,
        reason: str,
        action: str,
        event_id: str | None = None,
        employee_id: str | None = None,
        punch_kind: str | None = None,
        at: datetime | None = None,
    ) -> CorrectionRow:
        """Void an event (``event_id``) or add a punch (``employee_id``, ``punch_kind``, ``at``).
        Refusals are ``CorrectionError`` with ``.field``."""
        with self._transaction("saving a correction", readonly=False) as conn:
            row = corrections.add_correction(
                conn,
                actor=actor,
                reason=reason,
                action=action,
                event_id=event_id,
                employee_id=employee_id,
                punch_kind=punch_kind,
                at=at,
                now=datetime.now(UTC),
                tz=self._tz(conn),
            )
        log.info(
            "attendance_correction_added",
            correction_id=row.correction_id,
            action=row.action,
            event_id=row.event_id,
            employee_id=row.employee_id,
            actor=row.created_by,
        )
        return row

    def list_corrections(
        self,
        employee_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        limit: int = 1000,
    ) -> list[CorrectionRow]:
        with self._transaction("listing corrections", readonly=True) as conn:
            return corrections.list_corrections(
                conn, employee_id=employee_id, since=since, until=until, limit=limit, tz=self._tz(conn)
            )

    # -- schedules --------------------------------------------------------------------------------

    def set_schedule(
        self, scope: str, scope_key: str, week: Sequence[Sequence[str] | None], grace_minutes: int = 0
    ) -> ScheduleRow:
        """Create or replace the weekly schedule of a department or an employee (which beats it)."""
        with self._transaction("saving a schedule", readonly=False) as conn:
            row = schedules.set_schedule(conn, scope, scope_key, week, grace_minutes, self._tz(conn))
        log.info("attendance_schedule_set", scope=row.scope, scope_key=row.scope_key)
        return row

    def get_schedules(self) -> Schedules:
        with self._transaction("reading schedules", readonly=True) as conn:
            return schedules.load_schedules(conn)

    def list_schedules(self) -> list[ScheduleRow]:
        with self._transaction("listing schedules", readonly=True) as conn:
            return schedules.list_schedules(conn, self._tz(conn))

    def delete_schedule(self, scope: str, scope_key: str) -> bool:
        with self._transaction("deleting a schedule", readonly=False) as conn:
            gone = schedules.delete_schedule(conn, scope, scope_key)
        log.info("attendance_schedule_deleted", scope=scope, scope_key=scope_key, found=gone)
        return gone


def _without_idle_inactive(sheet: Timesheet, inactive: frozenset[str]) -> Timesheet:
    """Drop inactive employees whose rows hold nothing: the SQL picked them for a punch somewhere
    in the event span, which reaches past the range's edge days."""
    if not inactive:
        return sheet
    busy = {r.employee_id for r in sheet.rows if r.present or r.corrected or r.outside_window}
    idle = inactive - busy
    if not idle:
        return sheet
    return dataclasses.replace(
        sheet,
        rows=tuple(r for r in sheet.rows if r.employee_id not in idle),
        totals=tuple(t for t in sheet.totals if t.employee_id not in idle),
    )
