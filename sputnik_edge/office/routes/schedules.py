"""``/api/v1/attendance/schedules``: weekly work schedules per department or employee (the employee's
wins). Read by every account, changed by hr and admin (audited)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, Field

from sputnik_edge.api.errors import ApiError
from sputnik_edge.office import audit
from sputnik_edge.office.attendance.types import ParameterError, ScheduleRow
from sputnik_edge.office.deps import AnyUser, Staff, State, actor_of, trace_id
from sputnik_edge.office.routes.attendance import INVALID, invalid, service
from sputnik_edge.office.routes.common import MALFORMED_BODY, errors

router = APIRouter(prefix="/api/v1/attendance/schedules", tags=["attendance"])
Scope = Annotated[Literal["department", "employee"], Path(description="department or employee")]
Key = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f/]+$")]


class ScheduleIn(BaseModel):
    # Monday first; null is a day off; ["HH:MM", "HH:MM"] with end <= start for a night shift.
    week: Annotated[list[list[str] | None], Field(min_length=7, max_length=7)]
    grace_minutes: Annotated[int, Field(ge=0, le=240)] = 0


class ScheduleOut(BaseModel):
    scope: str
    scope_key: str
    week: list[list[str] | None]
    grace_minutes: int
    updated_at: datetime


class SchedulesOut(BaseModel):
    schedules: list[ScheduleOut]


def _out(row: ScheduleRow) -> ScheduleOut:
    return ScheduleOut(
        scope=row.scope,
        scope_key=row.scope_key,
        week=[list(day) if day else None for day in row.week],
        grace_minutes=row.grace_minutes,
        updated_at=row.updated_at,
    )


@router.get("", response_model=SchedulesOut, responses=errors())
def list_schedules(state: State, _user: AnyUser) -> SchedulesOut:
    return SchedulesOut(schedules=[_out(r) for r in service(state).list_schedules()])


@router.put("/{scope}/{scope_key}", response_model=ScheduleOut, responses=errors(INVALID, MALFORMED_BODY))
def set_schedule(
    scope: Scope, scope_key: Key, body: ScheduleIn, request: Request, state: State, user: Staff
) -> ScheduleOut:
    try:
        row = service(state).set_schedule(scope, scope_key, body.week, body.grace_minutes)
    except (ParameterError, ValueError) as exc:
        raise invalid(exc) from None
    audit.record_now(
        state.central,
        actor=actor_of(user),
        action="schedule_set",
        target_type=scope,
        target_id=scope_key,
        details={"week": body.week, "grace_minutes": body.grace_minutes},
        trace_id=trace_id(request),
    )
    return _out(row)


@router.delete(
    "/{scope}/{scope_key}",
    status_code=204,
    response_class=Response,
    responses=errors((404, "No such schedule")),
)
def delete_schedule(scope: Scope, scope_key: Key, request: Request, state: State, user: Staff) -> Response:
    if not service(state).delete_schedule(scope, scope_key):
        raise ApiError(404, "not_found", f"no {scope} schedule for {scope_key!r}")
    audit.record_now(
        state.central,
        actor=actor_of(user),
        action="schedule_deleted",
        target_type=scope,
        target_id=scope_key,
        trace_id=trace_id(request),
    )
    return Response(status_code=204)
