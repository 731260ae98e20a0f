"""``GET /api/v1/audit`` (admin): the log of every change made through the office, newest first.

Cursor pagination: each page gives ``next_before``; pass it as ``before`` for the next (older)
page. ``from`` / ``to`` bound ``at`` (from inclusive, to exclusive; naive times are UTC).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from sputnik_edge.office import audit
from sputnik_edge.office.deps import Admin, State
from sputnik_edge.office.routes.common import errors, utc_bound

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

NAME_PATTERN = r"^[^\x00-\x1f\x7f]*$"


class AuditEntryOut(BaseModel):
    audit_id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, Any] | None
    trace_id: str | None


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]
    next_before: int | None


@router.get("", response_model=AuditOut, responses=errors())
def list_audit(
    state: State,
    _admin: Admin,
    from_: Annotated[datetime | None, Query(alias="from", description="at or after (ISO 8601)")] = None,
    to: Annotated[datetime | None, Query(description="before (ISO 8601)")] = None,
    actor: Annotated[str | None, Query(max_length=200, pattern=NAME_PATTERN)] = None,
    action: Annotated[str | None, Query(max_length=100, pattern=NAME_PATTERN)] = None,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="cursor: next_before of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditOut:
    page = audit.list_audit(
        state.central,
        since=utc_bound(from_, "from"),
        until=utc_bound(to, "to"),
        actor=actor or None,
        action=action or None,
        before=before,
        limit=limit,
    )
    return AuditOut(
        entries=[
            AuditEntryOut(
                audit_id=e.audit_id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                details=e.details,
                trace_id=e.trace_id,
            )
            for e in page.entries
        ],
        next_before=page.next_before,
    )
