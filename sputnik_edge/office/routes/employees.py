"""``/api/v1/employees`` (hr, admin): list with search, create, read, update, (de)activate, erase.

Pagination is ``limit`` / ``offset`` over the id order, with ``total`` in the answer. Devices pick
every change up at their next gallery pull (``change_seq``); deactivated employees stop matching.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field, field_validator

from sputnik_edge.api.errors import ApiError
from sputnik_edge.office.deps import Staff, State, actor_of, trace_id
from sputnik_edge.office.routes import employee_queries as queries
from sputnik_edge.office.routes.common import MALFORMED_BODY, errors

router = APIRouter(prefix="/api/v1/employees", tags=["employees"])

# No whitespace (as `sputnik-edge enroll`), no "/" (the id is a path segment), no control characters.
EMPLOYEE_ID_PATTERN = r"^[^\s/\x00-\x1f\x7f]{1,64}$"
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"

EmployeeId = Annotated[str, Path(pattern=EMPLOYEE_ID_PATTERN, description="The employee's id")]
NOT_FOUND = (404, "No such employee")


class EmployeeOut(BaseModel):
    employee_id: str
    full_name: str
    department: str | None
    is_active: bool
    templates: int  # live face templates (all models)
    created_at: datetime
    updated_at: datetime


class EmployeeListOut(BaseModel):
    employees: list[EmployeeOut]
    total: int
    limit: int
    offset: int


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class EmployeeIn(BaseModel):
    employee_id: Annotated[str, Field(pattern=EMPLOYEE_ID_PATTERN)]
    full_name: Annotated[str, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
    department: Annotated[str | None, Field(max_length=200, pattern=TEXT_PATTERN)] = None
    is_active: bool = True

    _strip_text = field_validator("full_name", "department", mode="before")(_strip)

    @field_validator("department")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


class EmployeePatch(BaseModel):
    """Only the fields sent are changed; ``department: null`` clears it."""

    full_name: Annotated[str | None, Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)] = None
    department: Annotated[str | None, Field(max_length=200, pattern=TEXT_PATTERN)] = None
    is_active: bool | None = None

    _strip_text = field_validator("full_name", "department", mode="before")(_strip)

    @field_validator("department")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None


def _out(e: queries.Employee) -> EmployeeOut:
    return EmployeeOut(
        employee_id=e.employee_id,
        full_name=e.full_name,
        department=e.department,
        is_active=e.is_active,
        templates=e.templates,
        created_at=e.created_at,
        updated_at=e.updated_at,
    )


def _not_found(employee_id: str) -> ApiError:
    return ApiError(404, "not_found", f"no employee {employee_id!r}")


@router.get("", response_model=EmployeeListOut, responses=errors())
def list_employees(
    state: State,
    _user: Staff,
    q: Annotated[
        str | None,
        Query(
            max_length=200, pattern=TEXT_PATTERN, description="Substring of id, name or department (any case)"
        ),
    ] = None,
    active: Annotated[bool | None, Query(description="Only active (true) or inactive (false)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> EmployeeListOut:
    page = queries.search(
        state.central, q=(q or "").strip() or None, active=active, limit=limit, offset=offset
    )
    return EmployeeListOut(
        employees=[_out(e) for e in page.employees], total=page.total, limit=limit, offset=offset
    )


@router.post(
    "",
    status_code=201,
    response_model=EmployeeOut,
    responses=errors(MALFORMED_BODY, (409, "An employee with this id exists")),
)
def create_employee(body: EmployeeIn, request: Request, state: State, user: Staff) -> EmployeeOut:
    try:
        created = queries.create(
            state.central,
            employee_id=body.employee_id,
            full_name=body.full_name,
            department=body.department,
            is_active=body.is_active,
            actor=actor_of(user),
            trace_id=trace_id(request),
        )
    except queries.EmployeeExistsError as exc:
        raise ApiError(409, "exists", str(exc)) from None
    return _out(created)


@router.get("/{employee_id}", response_model=EmployeeOut, responses=errors(NOT_FOUND))
def get_employee(employee_id: EmployeeId, state: State, _user: Staff) -> EmployeeOut:
    found = queries.get(state.central, employee_id)
    if found is None:
        raise _not_found(employee_id)
    return _out(found)


def _change(
    request: Request, state: State, user: Staff, employee_id: str, changes: dict[str, Any]
) -> EmployeeOut:
    changed = queries.change(
        state.central, employee_id, changes, actor=actor_of(user), trace_id=trace_id(request)
    )
    if changed is None:
        raise _not_found(employee_id)
    return _out(changed)


@router.patch("/{employee_id}", response_model=EmployeeOut, responses=errors(MALFORMED_BODY, NOT_FOUND))
def update_employee(
    employee_id: EmployeeId, body: EmployeePatch, request: Request, state: State, user: Staff
) -> EmployeeOut:
    changes = {k: getattr(body, k) for k in body.model_fields_set}
    for key in ("full_name", "is_active"):  # these cannot be cleared
        if key in changes and changes[key] is None:
            raise ApiError(422, "invalid_request", f"{key}: may not be null")
    return _change(request, state, user, employee_id, changes)


@router.post("/{employee_id}/deactivate", response_model=EmployeeOut, responses=errors(NOT_FOUND))
def deactivate_employee(employee_id: EmployeeId, request: Request, state: State, user: Staff) -> EmployeeOut:
    """Stops matching on every device at its next pull; templates and history stay."""
    return _change(request, state, user, employee_id, {"is_active": False})


@router.post("/{employee_id}/activate", response_model=EmployeeOut, responses=errors(NOT_FOUND))
def activate_employee(employee_id: EmployeeId, request: Request, state: State, user: Staff) -> EmployeeOut:
    return _change(request, state, user, employee_id, {"is_active": True})


@router.delete("/{employee_id}", status_code=204, response_class=Response, responses=errors(NOT_FOUND))
def erase_employee(employee_id: EmployeeId, request: Request, state: State, user: Staff) -> Response:
    """Right to erasure: the employee, templates, photos, events and corrections go everywhere;
    a tombstone tells the devices to drop their copies."""
    if not queries.erase(state.central, employee_id, actor=actor_of(user), trace_id=trace_id(request)):
        raise _not_found(employee_id)
    return Response(status_code=204)
