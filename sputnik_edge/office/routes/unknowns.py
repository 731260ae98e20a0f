"""``/api/v1/unknowns`` (hr, admin): unknown visitors grouped by face, their crops, and "this is ..."
to enrol a group. Only when ``office.unknown_visitors`` is on; crops older than
``office.unknown_retention_days`` are purged whenever the groups are listed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from sputnik_edge.api.errors import ApiError
from sputnik_edge.office import audit
from sputnik_edge.office.context import OfficeState
from sputnik_edge.office.deps import Staff, State, actor_of, trace_id
from sputnik_edge.office.routes.common import MALFORMED_BODY, errors
from sputnik_edge.office.routes.employees import EMPLOYEE_ID_PATTERN, TEXT_PATTERN
from sputnik_edge.office.unknowns import UnknownGroupNotFound, UnknownsService

router = APIRouter(prefix="/api/v1/unknowns", tags=["unknowns"])
NOT_FOUND = (404, "No such group or face, or unknown visitors are off")
UUID_PATTERN = r"^[0-9a-fA-F-]{36}$"


def service(state: OfficeState) -> UnknownsService:
    if not state.settings.office.unknown_visitors:
        raise ApiError(404, "not_found", "unknown visitors are off (office.unknown_visitors)")
    return UnknownsService(
        state.central.engine,
        state.recognition.model_id,
        threshold=state.settings.office.unknown_group_threshold,
    )


class FaceOut(BaseModel):
    event_id: str
    device_id: str
    camera_id: str | None
    captured_at: datetime


class GroupOut(BaseModel):
    group_id: str
    size: int
    first_seen: datetime
    last_seen: datetime
    faces: list[FaceOut]


class GroupsOut(BaseModel):
    enabled: bool
    retention_days: int
    groups: list[GroupOut]


@router.get("", response_model=GroupsOut, responses=errors())
def groups(state: State, _user: Staff) -> GroupsOut:
    office = state.settings.office
    if not office.unknown_visitors:
        return GroupsOut(enabled=False, retention_days=office.unknown_retention_days, groups=[])
    svc = service(state)
    svc.purge(datetime.now(UTC), office.unknown_retention_days)
    return GroupsOut(
        enabled=True,
        retention_days=office.unknown_retention_days,
        groups=[
            GroupOut(
                group_id=g.group_id,
                size=g.size,
                first_seen=g.first_seen,
                last_seen=g.last_seen,
                faces=[
                    FaceOut(
                        event_id=f.event_id,
                        device_id=f.device_id,
                        camera_id=f.camera_id,
                        captured_at=f.captured_at,
                    )
                    for f in g.faces
                ],
            )
            for g in svc.groups()
        ],
    )


@router.get(
    "/faces/{event_id}/crop.jpg",
    response_class=Response,
    responses={**errors(NOT_FOUND), 200: {"content": {"image/jpeg": {}}, "description": "The face crop"}},
)
def crop(event_id: Annotated[str, Path(pattern=UUID_PATTERN)], state: State, _user: Staff) -> Response:
    jpeg = service(state).crop(event_id)
    if jpeg is None:
        raise ApiError(404, "not_found", f"no unknown face {event_id}")
    # Biometric data of a person who is not an employee: never cached anywhere.
    return Response(jpeg, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


class EnrolIn(BaseModel):
    employee_id: Annotated[str, Field(pattern=EMPLOYEE_ID_PATTERN)]
    full_name: Annotated[str | None, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)] = None
    department: Annotated[str | None, Field(max_length=200, pattern=TEXT_PATTERN)] = None


class EnrolOut(BaseModel):
    employee_id: str
    templates: int


@router.post(
    "/{group_id}/enroll",
    status_code=201,
    response_model=EnrolOut,
    responses=errors(NOT_FOUND, MALFORMED_BODY, (422, "Invalid request")),
)
def enroll(
    group_id: Annotated[str, Path(pattern=UUID_PATTERN)],
    body: EnrolIn,
    request: Request,
    state: State,
    user: Staff,
) -> EnrolOut:
    svc = service(state)
    try:
        ids = svc.enroll_group(
            state.central,
            group_id,
            employee_id=body.employee_id,
            full_name=body.full_name,
            department=body.department,
        )
    except UnknownGroupNotFound as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    audit.record_now(
        state.central,
        actor=actor_of(user),
        action="unknown_group_enrolled",
        target_type="employee",
        target_id=body.employee_id,
        details={"group_id": group_id, "templates": len(ids), "new_employee": body.full_name is not None},
        trace_id=trace_id(request),
    )
    return EnrolOut(employee_id=body.employee_id, templates=len(ids))
