"""Employees in the central database, as the office changes them: each write and its audit row in
one transaction (and under the gallery lock, like every writer of a change_seq table)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection, Select, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from sputnik_edge.central.schema import employees, face_templates
from sputnik_edge.central.store import CentralStore
from sputnik_edge.office import audit
from sputnik_edge.office.attendance.corrections import erase_employee_rows

log = structlog.get_logger(__name__)

EDITABLE = ("full_name", "department", "is_active")


@dataclass(frozen=True, slots=True)
class Employee:
    employee_id: str
    full_name: str
    department: str | None
    is_active: bool
    templates: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EmployeePage:
    employees: list[Employee]
    total: int


class EmployeeExistsError(ValueError):
    pass


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _select() -> Select[Any]:
    live = (
        select(func.count())
        .where(face_templates.c.employee_id == employees.c.employee_id, face_templates.c.deleted_at.is_(None))
        .scalar_subquery()
    )
    return select(
        employees.c.employee_id,
        employees.c.full_name,
        employees.c.department,
        employees.c.is_active,
        live.label("templates"),
        employees.c.created_at,
        employees.c.updated_at,
    )


def _row(r: Any) -> Employee:
    return Employee(
        r.employee_id, r.full_name, r.department, r.is_active, int(r.templates), r.created_at, r.updated_at
    )


def search(
    central: CentralStore, *, q: str | None, active: bool | None, limit: int, offset: int
) -> EmployeePage:
    """Case-insensitive substring search over id, name and department; ordered by id."""
    conds = []
    if q:
        pattern = _like(q)
        conds.append(
            or_(
                employees.c.employee_id.ilike(pattern, escape="\\"),
                employees.c.full_name.ilike(pattern, escape="\\"),
                employees.c.department.ilike(pattern, escape="\\"),
            )
        )
    if active is not None:
        conds.append(employees.c.is_active.is_(active))
    page = _select().where(*conds).order_by(employees.c.employee_id).limit(limit).offset(offset)
    count = select(func.count()).select_from(employees).where(*conds)

    def run(conn: Connection) -> EmployeePage:
        rows = conn.execute(page).all()
        return EmployeePage([_row(r) for r in rows], int(conn.execute(count).scalar_one()))

    return central._transaction("listing employees", run)


def _get(conn: Connection, employee_id: str) -> Employee | None:
    row = conn.execute(_select().where(employees.c.employee_id == employee_id)).first()
    return _row(row) if row else None


def get(central: CentralStore, employee_id: str) -> Employee | None:
    return central._transaction("reading employee", lambda conn: _get(conn, employee_id))


def create(
    central: CentralStore,
    *,
    employee_id: str,
    full_name: str,
    department: str | None,
    is_active: bool,
    actor: str,
    trace_id: str | None,
) -> Employee:
    stmt = (
        pg_insert(employees)
        .values(employee_id=employee_id, full_name=full_name, department=department, is_active=is_active)
        .on_conflict_do_nothing(index_elements=[employees.c.employee_id])
        .returning(employees.c.employee_id)
    )

    def run(conn: Connection) -> Employee:
        central._lock_gallery(conn)
        if conn.execute(stmt).first() is None:
            raise EmployeeExistsError(f"employee {employee_id!r} exists already")
        audit.record(
            conn,
            actor=actor,
            action="employee_created",
            target_type="employee",
            target_id=employee_id,
            details={"full_name": full_name, "department": department, "is_active": is_active},
            trace_id=trace_id,
        )
        created = _get(conn, employee_id)
        assert created is not None  # inserted in this very transaction
        return created

    employee = central._transaction("creating employee", run)
    log.info("office_employee_created", employee_id=employee_id)
    return employee


def change(
    central: CentralStore, employee_id: str, changes: dict[str, Any], *, actor: str, trace_id: str | None
) -> Employee | None:
    """Apply the given fields (those in EDITABLE); None when there is no such employee. Unchanged
    values are not written, so devices do not re-pull an employee for nothing."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")

    def run(conn: Connection) -> Employee | None:
        central._lock_gallery(conn)
        before = _get(conn, employee_id)
        if before is None:
            return None
        diff = {k: v for k, v in changes.items() if getattr(before, k) != v}
        if not diff:
            return before
        conn.execute(update(employees).where(employees.c.employee_id == employee_id).values(**diff))
        if set(diff) == {"is_active"}:
            action = "employee_activated" if diff["is_active"] else "employee_deactivated"
        else:
            action = "employee_updated"
        audit.record(
            conn,
            actor=actor,
            action=action,
            target_type="employee",
            target_id=employee_id,
            details=diff,
            trace_id=trace_id,
        )
        return _get(conn, employee_id)

    return central._transaction("updating employee", run)


def erase(central: CentralStore, employee_id: str, *, actor: str, trace_id: str | None) -> bool:
    """Right to erasure through the office: the office's own personal rows first (corrections,
    names in earlier audit details), then the central erasure with its tombstone
    (``CentralStore.delete_employee``: templates, photos, events), then the audit row.

    Three transactions, because the central erasure runs its own: if it fails after the first,
    the corrections are gone but the person is not, and repeating the request finishes the job
    (each step is idempotent). The audit row is written only once the erasure committed."""

    def office_rows(conn: Connection) -> int:
        # Before the events go: voids of this person's events are found through them.
        removed = erase_employee_rows(conn, employee_id)
        audit.scrub_employee(conn, employee_id)
        return removed

    corrections = central._transaction("erasing office records", office_rows)
    found = central.delete_employee(employee_id)
    if found or corrections:
        audit.record_now(
            central,
            actor=actor,
            action="employee_erased",
            target_type="employee",
            target_id=employee_id,
            details={"corrections_removed": corrections},
            trace_id=trace_id,
        )
    log.info("office_employee_erased", employee_id=employee_id, found=found, corrections=corrections)
    return found
