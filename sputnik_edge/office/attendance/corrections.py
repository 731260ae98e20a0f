"""HR corrections in ``attendance_corrections``: an added check-in/out, or a voided event.

Originals are never changed: a void is a row of its own naming the event, and an added punch is a
row whose ``correction_id`` doubles as the punch's id, so it can be voided like an event. A void row
also records the voided event's employee, so the person's corrections can be found (and erased)
even once their events are gone.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import Connection, Select, and_, delete, func, or_, select

from sputnik_edge.central.schema import attendance_corrections, attendance_events, employees
from sputnik_edge.office.attendance import checks
from sputnik_edge.office.attendance.schedules import delete_employee_schedule
from sputnik_edge.office.attendance.types import CorrectionError, CorrectionRow, ParameterError
from sputnik_edge.office.timesheet import PUNCH_KINDS, AddPunch, PunchKind, VoidEvent

MAX_REASON_LENGTH = 500
MAX_LIST = 10_000
# Punches are entered after the fact; one a day ahead allows for a clock or zone mistake, more is a typo.
FUTURE_SLACK = timedelta(days=1)

_c = attendance_corrections
_e = attendance_events
_added = attendance_corrections.alias("added")


def _uuid(value: object, field: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise CorrectionError(field, f"is not a UUID: {value!r}") from None


def _unused(action: str, **fields: object) -> None:
    for name, value in fields.items():
        if value is not None:
            raise CorrectionError(name, f"is not used with action {action!r}")


def _void_target(conn: Connection, event_id: str) -> tuple[str | None, datetime]:
    """The voided thing's employee and instant. Locks the row, so two HR users voiding the same
    event at once are serialised and the second one is told it is already voided."""
    event = conn.execute(
        select(_e.c.employee_id, _e.c.captured_at).where(_e.c.event_id == event_id).with_for_update()
    ).first()
    if event is not None:
        return event.employee_id, event.captured_at
    added = conn.execute(
        select(_c.c.employee_id, _c.c.at)
        .where(_c.c.correction_id == event_id, _c.c.action == "add")
        .with_for_update()
    ).first()
    if added is not None:
        return added.employee_id, added.at
    raise CorrectionError("event_id", f"no event or added punch {event_id}")


def add_correction(
    conn: Connection,
    *,
    actor: object,
    reason: object,
    action: object,
    event_id: object,
    employee_id: object,
    punch_kind: object,
    at: object,
    now: datetime,
    tz: tzinfo,
) -> CorrectionRow:
    if action not in ("add", "void"):
        raise CorrectionError("action", f"must be 'add' or 'void', got {action!r}")
    why = checks.text(reason, "reason", max_length=MAX_REASON_LENGTH, error=CorrectionError)
    who = checks.text(actor, "actor", error=CorrectionError)
    values: dict[str, Any] = {"correction_id": str(uuid.uuid4()), "reason": why, "created_by": who}
    if action == "void":
        _unused("void", punch_kind=punch_kind, at=at)
        if event_id is None:
            raise CorrectionError("event_id", "is required to void an event")
        target = _uuid(event_id, "event_id")
        owner, applies_at = _void_target(conn, target)
        if employee_id is not None and employee_id != owner:
            raise CorrectionError("employee_id", f"event {target} is not {employee_id!r}'s")
        voided = conn.execute(
            select(_c.c.correction_id).where(_c.c.action == "void", _c.c.event_id == target)
        ).first()
        if voided is not None:
            raise CorrectionError("event_id", f"{target} is already voided (correction {voided[0]})")
        values |= {"action": "void", "event_id": target, "employee_id": owner}
    else:
        _unused("add", event_id=event_id)
        person = checks.text(employee_id, "employee_id", error=CorrectionError)
        if punch_kind not in PUNCH_KINDS:
            raise CorrectionError("punch_kind", f"must be 'check_in' or 'check_out', got {punch_kind!r}")
        when = checks.aware(at, "at", error=CorrectionError)
        if when > now + FUTURE_SLACK:
            raise CorrectionError("at", f"{when.isoformat()} is more than a day in the future")
        # FOR SHARE: an erasure running now waits for this insert, then erases the punch with the rest.
        exists = conn.execute(
            select(employees.c.employee_id)
            .where(employees.c.employee_id == person)
            .with_for_update(read=True)
        ).first()
        if exists is None:
            raise CorrectionError("employee_id", f"no employee {person!r}")
        applies_at = when
        values |= {"action": "add", "employee_id": person, "punch_kind": punch_kind, "at": when}
    row = conn.execute(_c.insert().values(**values).returning(*_c.c)).one()
    return _row(row, applies_at, tz)


def _row(r: Any, applies_at: datetime | None, tz: tzinfo) -> CorrectionRow:
    def local(value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(tz)

    return CorrectionRow(
        correction_id=str(r.correction_id),
        action=r.action,
        event_id=None if r.event_id is None else str(r.event_id),
        employee_id=r.employee_id,
        punch_kind=r.punch_kind,
        at=local(r.at),
        reason=r.reason,
        created_by=r.created_by,
        created_at=r.created_at.astimezone(tz),
        applies_at=local(applies_at),
    )


def list_corrections(
    conn: Connection,
    *,
    employee_id: object,
    since: object,
    until: object,
    limit: object,
    tz: tzinfo,
) -> list[CorrectionRow]:
    """Newest first; ``since``/``until`` (inclusive/exclusive) select by the instant a correction
    affects: an added punch's time, a voided event's capture time."""
    person = checks.optional_text(employee_id, "employee_id")
    lo = checks.optional_aware(since, "since")
    hi = checks.optional_aware(until, "until")
    if lo is not None and hi is not None and lo > hi:
        raise ParameterError("since", f"{lo.isoformat()} is after until {hi.isoformat()}")
    count = checks.integer(limit, "limit", 1, MAX_LIST)
    applies = func.coalesce(_c.c.at, _e.c.captured_at, _added.c.at)
    stmt = select(*_c.c, applies.label("applies_at")).select_from(
        _c.outerjoin(_e, _e.c.event_id == _c.c.event_id).outerjoin(
            _added, and_(_added.c.correction_id == _c.c.event_id, _added.c.action == "add")
        )
    )
    if person is not None:
        stmt = stmt.where(
            or_(_c.c.employee_id == person, _e.c.employee_id == person, _added.c.employee_id == person)
        )
    if lo is not None:
        stmt = stmt.where(applies >= lo)
    if hi is not None:
        stmt = stmt.where(applies < hi)
    stmt = stmt.order_by(_c.c.created_at.desc(), _c.c.correction_id.desc()).limit(count)
    return [_row(r, r.applies_at, tz) for r in conn.execute(stmt)]


def load_for_span(
    conn: Connection, scope: Select[tuple[str]], since: datetime, until: datetime
) -> tuple[list[AddPunch], list[VoidEvent]]:
    """The corrections that can touch a timesheet over [since, until) of the employees ``scope``
    selects: their added punches in the span, and voids of their punches or added punches there."""
    adds: list[AddPunch] = []
    for r in conn.execute(
        select(_c.c.correction_id, _c.c.employee_id, _c.c.punch_kind, _c.c.at, _c.c.reason).where(
            _c.c.action == "add", _c.c.at >= since, _c.c.at < until, _c.c.employee_id.in_(scope)
        )
    ):
        kind: PunchKind = "check_in" if r.punch_kind == "check_in" else "check_out"
        adds.append(AddPunch(str(r.correction_id), r.employee_id, kind, r.at, r.reason))
    void_cols = (_c.c.correction_id, _c.c.event_id, _c.c.reason)
    of_events = (
        select(*void_cols)
        .join(_e, _e.c.event_id == _c.c.event_id)
        .where(
            _c.c.action == "void",
            _e.c.captured_at >= since,
            _e.c.captured_at < until,
            _e.c.kind.in_(sorted(PUNCH_KINDS)),
            _e.c.employee_id.in_(scope),
        )
    )
    of_added = (
        select(*void_cols)
        .join(_added, and_(_added.c.correction_id == _c.c.event_id, _added.c.action == "add"))
        .where(
            _c.c.action == "void",
            _added.c.at >= since,
            _added.c.at < until,
            _added.c.employee_id.in_(scope),
        )
    )
    voids = [
        VoidEvent(str(r.correction_id), str(r.event_id), r.reason)
        for stmt in (of_events, of_added)
        for r in conn.execute(stmt)
    ]
    return adds, voids


def erase_employee_rows(conn: Connection, employee_id: str) -> int:
    """Delete the person's corrections (their added punches, voids of their events or punches) and
    their own work schedule, inside the caller's erasure transaction. Call it before the events are
    deleted: voids made by hand without an employee are found through the events. Returns how many
    corrections went."""
    person = checks.text(employee_id, "employee_id")
    their_events = select(_e.c.event_id).where(_e.c.employee_id == person)
    their_added = select(_added.c.correction_id).where(
        _added.c.action == "add", _added.c.employee_id == person
    )
    voids = conn.execute(
        delete(_c).where(
            _c.c.action == "void",
            or_(_c.c.employee_id == person, _c.c.event_id.in_(their_events), _c.c.event_id.in_(their_added)),
        )
    ).rowcount
    rest = conn.execute(delete(_c).where(_c.c.employee_id == person)).rowcount
    delete_employee_schedule(conn, person)
    return int(voids) + int(rest)
