"""``/api/v1/attendance``: events, the day's overview, timesheets (JSON, CSV, XLSX) and corrections.

Reads for every account; corrections for hr and admin, audited in the same transaction window as
the change (the service commits it, the audit row follows). Originals are never changed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from sputnik_edge.api.errors import ApiError
from sputnik_edge.office import audit
from sputnik_edge.office.attendance.service import AttendanceService
from sputnik_edge.office.attendance.types import CorrectionError, ParameterError
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.deps import AnyUser, Staff, State, actor_of, trace_id
from sputnik_edge.office.exports import timesheet_csv, timesheet_xlsx
from sputnik_edge.office.routes.common import MALFORMED_BODY, errors, utc_bound
from sputnik_edge.office.timesheet import Timesheet

router = APIRouter(prefix="/api/v1/attendance", tags=["attendance"])
INVALID = (422, "A parameter is invalid (the message names it)")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def service(state: OfficeState) -> AttendanceService:
    return AttendanceService(state.central.engine, timezone=state.settings.office.timezone or None)


def invalid(exc: ValueError) -> ApiError:
    code = "invalid_correction" if isinstance(exc, CorrectionError) else "invalid_request"
    field = getattr(exc, "field", None)
    message = str(exc)
    if field and not message.startswith(field):
        message = f"{field}: {message}"
    return ApiError(422, code, message)


class EventOut(BaseModel):
    event_id: str
    device_id: str
    camera_id: str | None
    employee_id: str | None
    full_name: str | None
    department: str | None
    kind: str
    similarity: float | None
    captured_at: datetime
    received_at: datetime
    voided: bool
    correction_id: str | None


class EventsOut(BaseModel):
    events: list[EventOut]
    next_cursor: str | None


@router.get("/events", response_model=EventsOut, responses=errors(INVALID))
def events(
    state: State,
    _user: AnyUser,
    from_: Annotated[datetime | None, Query(alias="from", description="ISO 8601, inclusive")] = None,
    to: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    employee_id: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
    device_id: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventsOut:
    try:
        page = service(state).events(
            since=utc_bound(from_, "from"),
            until=utc_bound(to, "to"),
            employee_id=employee_id,
            department=department,
            device_id=device_id,
            kind=kind,
            cursor=cursor,
            limit=limit,
        )
    except (ParameterError, ValueError) as exc:
        raise invalid(exc) from None
    out = [EventOut.model_validate(e, from_attributes=True) for e in page.events]
    return EventsOut(events=out, next_cursor=page.next_cursor)


class DailyRowOut(BaseModel):
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


class DailyOut(BaseModel):
    day: date
    timezone: str
    rows: list[DailyRowOut]


@router.get("/daily", response_model=DailyOut, responses=errors(INVALID))
def daily(
    state: State,
    _user: AnyUser,
    day: Annotated[date | None, Query(description="Office-local day (default: today)")] = None,
    department: Annotated[str | None, Query(max_length=200)] = None,
) -> DailyOut:
    svc = service(state)
    tz = svc.timezone()
    the_day = day or datetime.now(tz).date()
    try:
        rows = svc.daily(the_day, department=department)
    except (ParameterError, ValueError) as exc:
        raise invalid(exc) from None
    return DailyOut(
        day=the_day,
        timezone=str(tz),
        rows=[DailyRowOut.model_validate(r, from_attributes=True) for r in rows],
    )


class DayRowOut(BaseModel):
    employee_id: str
    full_name: str
    department: str | None
    day: date
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    first_in: datetime | None
    last_out: datetime | None
    worked_minutes: int
    late_minutes: int
    early_leave_minutes: int
    absent: bool
    missing_out: bool
    missing_in: bool
    pending: bool
    corrected: bool
    correction_reasons: list[str]


class TotalsOut(BaseModel):
    employee_id: str
    full_name: str
    department: str | None
    worked_minutes: int
    late_minutes: int
    early_leave_minutes: int
    days_present: int
    days_absent: int
    days_late: int
    days_early_leave: int
    days_missing_out: int
    days_corrected: int


class TimesheetOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    timezone: str
    rows: list[DayRowOut]
    totals: list[TotalsOut]


def timesheet_json(sheet: Timesheet) -> dict[str, Any]:
    body = TimesheetOut.model_validate(
        {
            "from": sheet.start_day,
            "to": sheet.end_day,
            "timezone": str(sheet.timezone),
            "rows": [DayRowOut.model_validate(r, from_attributes=True) for r in sheet.rows],
            "totals": [TotalsOut.model_validate(t, from_attributes=True) for t in sheet.totals],
        }
    )
    return body.model_dump(mode="json", by_alias=True)


@router.get(
    "/timesheet",
    response_model=TimesheetOut,
    responses={
        **errors(INVALID),
        200: {
            "description": "JSON, or a CSV (UTF-8 with BOM) / XLSX download with format=csv|xlsx",
            "content": {"application/json": {}, "text/csv": {}, XLSX: {}},
        },
    },
)
def timesheet(
    state: State,
    _user: AnyUser,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
    department: Annotated[str | None, Query(max_length=200)] = None,
    employee_id: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[Literal["json", "csv", "xlsx"], Query()] = "json",
    lang: Annotated[Literal["en", "ru"], Query()] = "en",
) -> Response:
    try:
        sheet = service(state).timesheet(from_, to, department=department, employee_id=employee_id)
    except (ParameterError, ValueError) as exc:
        raise invalid(exc) from None
    name = f"timesheet-{from_}-{to}"
    if format == "csv":
        return Response(
            timesheet_csv(sheet, lang),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            timesheet_xlsx(sheet, lang),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return JSONResponse(timesheet_json(sheet))


class CorrectionIn(BaseModel):
    action: Literal["add", "void"]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    event_id: Annotated[str | None, Field(max_length=64)] = None
    employee_id: Annotated[str | None, Field(max_length=64)] = None
    punch_kind: Literal["check_in", "check_out"] | None = None
    at: datetime | None = None


class CorrectionOut(BaseModel):
    correction_id: str
    action: str
    event_id: str | None
    employee_id: str | None
    punch_kind: str | None
    at: datetime | None
    reason: str
    created_by: str
    created_at: datetime


@router.post(
    "/corrections",
    status_code=201,
    response_model=CorrectionOut,
    responses=errors(INVALID, MALFORMED_BODY),
)
def add_correction(body: CorrectionIn, request: Request, state: State, user: Staff) -> CorrectionOut:
    try:
        row = service(state).add_correction(
            actor=actor_of(user),
            reason=body.reason,
            action=body.action,
            event_id=body.event_id,
            employee_id=body.employee_id,
            punch_kind=body.punch_kind,
            at=body.at,
        )
    except (ParameterError, ValueError) as exc:
        raise invalid(exc) from None
    details = {
        "correction_id": row.correction_id,
        "event_id": row.event_id,
        "punch_kind": row.punch_kind,
        "at": row.at.isoformat() if row.at else None,
        "reason": row.reason,
    }
    audit.record_now(
        state.central,
        actor=actor_of(user),
        action=f"correction_{row.action}",
        target_type="employee" if row.employee_id else "event",
        target_id=row.employee_id or row.event_id,
        details=details,
        trace_id=trace_id(request),
    )
    return CorrectionOut.model_validate(row, from_attributes=True)


class CorrectionsOut(BaseModel):
    corrections: list[CorrectionOut]


@router.get("/corrections", response_model=CorrectionsOut, responses=errors(INVALID))
def list_corrections(
    state: State,
    _user: AnyUser,
    employee_id: Annotated[str | None, Query(max_length=64)] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: Annotated[datetime | None, Query()] = None,
) -> CorrectionsOut:
    try:
        rows = service(state).list_corrections(employee_id, utc_bound(from_, "from"), utc_bound(to, "to"))
    except (ParameterError, ValueError) as exc:
        raise invalid(exc) from None
    return CorrectionsOut(corrections=[CorrectionOut.model_validate(r, from_attributes=True) for r in rows])
