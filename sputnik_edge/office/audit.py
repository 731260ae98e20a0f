"""The office audit log: who changed what, when, with the request's trace id.

``record`` writes one row on the caller's connection, so a change and its audit row commit (or
roll back) together. Details carry ids, names of fields and small facts, never a password, a token,
a cookie, a template or a photo: callers pass only what ``_clean`` lets through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update

from sputnik_edge.central.schema import office_audit
from sputnik_edge.central.store import CentralStore

# Never stored in details, whatever a caller passes.
_FORBIDDEN_KEYS = frozenset(
    {"password", "password_hash", "token", "token_hash", "secret", "cookie", "embedding", "image", "photo"}
)
MAX_ACTOR_CHARS = 200


@dataclass(frozen=True, slots=True)
class AuditEntry:
    audit_id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any] | None
    trace_id: str | None


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]
    next_before: int | None  # pass as ``before`` for the next (older) page; None at the end


def _clean(details: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not details:
        return None
    out = {k: v for k, v in details.items() if k.lower() not in _FORBIDDEN_KEYS}
    return out or None


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    details: Mapping[str, Any] | None = None,
    trace_id: str | None = None,
) -> None:
    """One audit row, in the caller's transaction."""
    conn.execute(
        office_audit.insert().values(
            actor=actor[:MAX_ACTOR_CHARS],
            action=action,
            target_type=target_type,
            target_id=target_id,
            details=_clean(details),
            trace_id=trace_id,
        )
    )


def record_now(central: CentralStore, **fields: Any) -> None:
    """One audit row in a transaction of its own: for changes made by a CentralStore call that runs
    its own transaction (erasure, templates), written right after that change committed."""
    central._transaction("writing audit log", lambda conn: record(conn, **fields))


def scrub_employee(conn: Connection, employee_id: str) -> int:
    """Erasure: drop the details (names, departments) of earlier rows about this employee; the
    rows themselves stay, so the log still shows that changes were made and by whom."""
    about = or_(
        and_(office_audit.c.target_type == "employee", office_audit.c.target_id == employee_id),
        office_audit.c.details["employee_id"].astext == employee_id,
    )
    return conn.execute(
        update(office_audit).where(about, office_audit.c.details.is_not(None)).values(details=None)
    ).rowcount


def list_audit(
    central: CentralStore,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
    action: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> AuditPage:
    """Newest first; ``before`` is the cursor (an audit_id) from the previous page."""
    stmt = select(office_audit).order_by(office_audit.c.audit_id.desc()).limit(limit + 1)
    if since is not None:
        stmt = stmt.where(office_audit.c.at >= since)
    if until is not None:
        stmt = stmt.where(office_audit.c.at < until)
    if actor:
        stmt = stmt.where(func.lower(office_audit.c.actor) == actor.lower())
    if action:
        stmt = stmt.where(office_audit.c.action == action)
    if before is not None:
        stmt = stmt.where(office_audit.c.audit_id < before)
    rows = central._transaction("reading audit log", lambda conn: conn.execute(stmt).all())
    entries = [
        AuditEntry(r.audit_id, r.at, r.actor, r.action, r.target_type, r.target_id, r.details, r.trace_id)
        for r in rows[:limit]
    ]
    more = len(rows) > limit
    return AuditPage(entries, entries[-1].audit_id if more and entries else None)
