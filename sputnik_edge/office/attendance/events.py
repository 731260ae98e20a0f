"""The event listing: filters, newest first, keyset pagination over (captured_at, event_id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import Connection, Select, select, tuple_

from sputnik_edge.attendance.types import EVENT_KINDS
from sputnik_edge.central.schema import attendance_corrections, attendance_events, employees
from sputnik_edge.office.attendance import checks
from sputnik_edge.office.attendance.cursor import decode_cursor, encode_cursor, filters_digest
from sputnik_edge.office.attendance.types import EventRow, EventsPage, ParameterError

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class EventFilters:
    since: datetime | None
    until: datetime | None
    employee_id: str | None
    department: str | None
    device_id: str | None
    kind: str | None

    @classmethod
    def checked(
        cls,
        *,
        since: object,
        until: object,
        employee_id: object,
        department: object,
        device_id: object,
        kind: object,
    ) -> EventFilters:
        lo = checks.optional_aware(since, "since")
        hi = checks.optional_aware(until, "until")
        if lo is not None and hi is not None and lo > hi:
            raise ParameterError("since", f"{lo.isoformat()} is after until {hi.isoformat()}")
        if kind is not None and kind not in EVENT_KINDS:
            raise ParameterError("kind", f"must be one of {', '.join(EVENT_KINDS)}, got {kind!r}")
        return cls(
            lo,
            hi,
            checks.optional_text(employee_id, "employee_id"),
            checks.optional_text(department, "department"),
            checks.optional_text(device_id, "device_id"),
            None if kind is None else str(kind),
        )

    def digest(self) -> str:
        # Instants by value, so the same filter in another zone's notation is the same listing.
        return filters_digest(
            (
                None if self.since is None else self.since.timestamp(),
                None if self.until is None else self.until.timestamp(),
                self.employee_id,
                self.department,
                self.device_id,
                self.kind,
            )
        )


def _query(filters: EventFilters) -> Select[tuple[object, ...]]:
    e, emp, c = attendance_events, employees, attendance_corrections
    # At most one void per event is allowed; the oldest wins if a hand-made row broke that rule.
    void_id = (
        select(c.c.correction_id)
        .where(c.c.action == "void", c.c.event_id == e.c.event_id)
        .order_by(c.c.created_at, c.c.correction_id)
        .limit(1)
        .scalar_subquery()
    )
    stmt = select(
        e.c.event_id,
        e.c.device_id,
        e.c.camera_id,
        e.c.employee_id,
        emp.c.full_name,
        emp.c.department,
        e.c.kind,
        e.c.similarity,
        e.c.captured_at,
        e.c.received_at,
        void_id.label("void_id"),
    ).select_from(e.outerjoin(emp, emp.c.employee_id == e.c.employee_id))
    if filters.since is not None:
        stmt = stmt.where(e.c.captured_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(e.c.captured_at < filters.until)
    if filters.employee_id is not None:
        stmt = stmt.where(e.c.employee_id == filters.employee_id)
    if filters.department is not None:
        stmt = stmt.where(emp.c.department == filters.department)
    if filters.device_id is not None:
        stmt = stmt.where(e.c.device_id == filters.device_id)
    if filters.kind is not None:
        stmt = stmt.where(e.c.kind == filters.kind)
    return stmt


def list_events(
    conn: Connection, filters: EventFilters, cursor: str | None, limit: int, tz: tzinfo
) -> EventsPage:
    """One page, newest first; ``since`` inclusive, ``until`` exclusive."""
    digest = filters.digest()
    stmt = _query(filters)
    if cursor is not None:
        at, event_id = decode_cursor(cursor, digest)
        e = attendance_events
        # Row comparison, so PostgreSQL walks the (captured_at, event_id) index from the key on.
        stmt = stmt.where(tuple_(e.c.captured_at, e.c.event_id) < tuple_(at, event_id))
    stmt = stmt.order_by(attendance_events.c.captured_at.desc(), attendance_events.c.event_id.desc())
    # One row more than asked tells whether another page exists without a count.
    rows = conn.execute(stmt.limit(limit + 1)).all()
    page = [
        EventRow(
            event_id=str(r.event_id),
            device_id=r.device_id,
            camera_id=r.camera_id,
            employee_id=r.employee_id,
            full_name=r.full_name,
            department=r.department,
            kind=r.kind,
            similarity=None if r.similarity is None else float(r.similarity),
            captured_at=r.captured_at.astimezone(tz),
            received_at=r.received_at.astimezone(tz),
            voided=r.void_id is not None,
            correction_id=None if r.void_id is None else str(r.void_id),
        )
        for r in rows[:limit]
    ]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(last.captured_at, last.event_id, digest)
    return EventsPage(page, next_cursor)
